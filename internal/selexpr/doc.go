// Package selexpr implements the selection expression language of Amazon API Gateway v2 WebSocket APIs,
// so that Switchboard picks routes and integration responses exactly as API Gateway would.
//
// A selection expression is static text mixed with variable references. A reference is written bare,
// as in $request.body.action, or braced, as in ${request.body.action}. A bare reference runs over the
// characters [A-Za-z0-9_-], dots that are followed by such a character, and bracket steps ([0], ['key'],
// ["key"]); the first character that cannot continue it ends it, so a trailing dot ("$context.requestId.")
// stays static text, while a "[" directly after it always starts a bracket step (and must be well
// formed). Braces are needed when static text that could continue the name follows directly,
// as in ${request.body.version}-beta. Evaluation is a single pass: a value that contains "$" is copied
// verbatim and never evaluated again.
//
// Escapes: \$ is a literal dollar sign, so the expression \$default evaluates to "$default". AWS documents
// no other escape, so a backslash before any other character (or at the end) is kept literally together
// with that character; this keeps regular-expression-looking text such as /2\d\d/ intact. Inside quoted
// bracket names a backslash makes the next character literal, so ['it\'s'] names the member "it's".
//
// Values found in a JSON body are stringified the way API Gateway's Java implementation does: strings
// unquoted, numbers exactly as written in the message, true/false, null as the empty string, arrays as
// [a, b] and objects as {k1=v1, k2=v2} with members in the order the message wrote them. A missing value
// is the empty string.
//
// Per WebSocket message the hot path is SelectRouteKey, which validates the body once and then scans the
// raw JSON for just the referenced paths instead of decoding the whole document.
package selexpr
