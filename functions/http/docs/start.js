// The docs page's own script: Swagger UI on the document this service serves, whose first
// server is this same service (whatever its origin and stage): "Try it out" calls it.
/* global SwaggerUIBundle, location, window */
(() => {
  const root = location.pathname.replace(/\/docs\/?$/, '');
  window.ui = SwaggerUIBundle({
    url: `${root}/openapi.json`,
    dom_id: '#docs',
    deepLinking: true,
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
})();
