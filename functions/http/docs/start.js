// The docs page's own script: Swagger UI on the document this service serves, with "Try it
// out" sent to this same service (whatever its origin and stage), not to the document's
// example server.
/* global SwaggerUIBundle, fetch, location, window */
(async () => {
  const root = location.pathname.replace(/\/docs\/?$/, '');
  const spec = await (await fetch(`${root}/openapi.json`)).json();
  spec.servers = [{ url: `${location.origin}${root}`, description: 'This service' }];
  window.ui = SwaggerUIBundle({
    spec,
    dom_id: '#docs',
    deepLinking: true,
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
})();
