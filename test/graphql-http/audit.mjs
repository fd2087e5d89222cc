// Runs graphql-http's server audits against the URL in argv[2], sending the
// Bearer token in argv[3] (every field of the API needs a signed-in
// caller), and prints one line per audit and a summary. Exits 1 on any
// error or warning.
import { serverAudits } from 'graphql-http';

const [url, token] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  if (token) headers.set('Authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
let ok = 0, warn = 0, error = 0;
for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  if (result.status === 'ok') {
    ok++;
    continue;
  }
  if (result.status === 'warn') warn++;
  else error++;
  let body = '';
  if (result.response) {
    try { body = (await result.response.text()).slice(0, 300); } catch { body = ''; }
  }
  console.log(`${result.status.toUpperCase()} ${audit.id} ${audit.name}: ${result.reason}` +
    (result.response ? ` [${result.response.status} ${result.response.headers.get('content-type')}] ${body}` : ''));
}
console.log(`graphql-http audit: ${ok} ok, ${warn} warnings, ${error} errors`);
process.exit(warn + error > 0 ? 1 : 0);
