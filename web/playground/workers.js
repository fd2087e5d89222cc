// Monaco, GraphiQL's editor, runs its language services in web workers and
// leaves where they come from to the bundler: ours are built beside main.js
// (build.mjs), so the page loads nothing from anywhere else.
globalThis.MonacoEnvironment = {
  getWorker(_id, label) {
    const name = label === 'json' || label === 'graphql' ? label : 'editor';
    return new Worker(new URL(`${name}.worker.js`, import.meta.url));
  },
};
