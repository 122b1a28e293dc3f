// Module resolution hook for Switchboard's Node.js bootstrap (registered with module.register).
//
// Lambda's Node.js runtimes let handlers import the AWS SDK for JavaScript v3 without shipping it. CommonJS
// finds it through NODE_PATH, which ES modules ignore; this hook gives ES modules the same fallback: a bare
// specifier that does not resolve from the importing file is resolved again from the SDK directory.

let fallbackParent;

export async function initialize(data) {
  fallbackParent = data && data.parentURL;
}

function isBare(specifier) {
  return !/^(\.{0,2}\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if (fallbackParent && err && err.code === 'ERR_MODULE_NOT_FOUND' && isBare(specifier)) {
      try {
        return await nextResolve(specifier, { ...context, parentURL: fallbackParent });
      } catch {
        // Report the original error: it names the handler's file, not the SDK directory.
      }
    }
    throw err;
  }
}
