// The playground: GraphiQL on this API's /graphql. Requests carry the
// viewer's session cookie (same origin, JSON, as the CSRF rules ask), or
// whatever the Headers tab holds, such as a pasted Bearer token.
import './workers.js';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';

// Relative to the page (/playground), so the playground also works behind a
// proxy that serves the API under a path prefix.
const endpoint = new URL('graphql', document.baseURI);

async function fetcher(params, opts) {
  const res = await fetch(endpoint, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/graphql-response+json, application/json',
      ...opts?.headers,
    },
    body: JSON.stringify(params),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (body && typeof body === 'object' && ('data' in body || 'errors' in body)) {
    return body; // a GraphQL answer, whatever its status
  }
  // Refused before GraphQL (CSRF, body size, budget): say what the server said.
  const message = body?.message ?? body?.error ?? text.slice(0, 300);
  return { errors: [{ message: `HTTP ${res.status}: ${message}` }] };
}

const defaultQuery = `# todo's GraphQL API. Requests go to /graphql with this site's session
# cookie. To send a token instead, put it in Headers below:
#   { "Authorization": "Bearer <access token>" }
# Ctrl-Enter runs the query; the book icon on the left opens the docs.
{
  me {
    email
  }
  tasks(first: 3) {
    totalCount
  }
}
`;

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL fetcher={fetcher} defaultQuery={defaultQuery} shouldPersistHeaders={false} />,
);
