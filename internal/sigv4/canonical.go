package sigv4

import (
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// unreserved marks the RFC 3986 unreserved bytes (A-Z a-z 0-9 - . _ ~), the only bytes SigV4 leaves
// unescaped in the canonical URI and query.
var unreserved [256]bool

func init() {
	for c := 0; c < 256; c++ {
		unreserved[c] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
	}
}

const upperHex = "0123456789ABCDEF"

// appendEscaped appends s to b with every byte outside the unreserved set percent-encoded in upper-case
// hex; '/' is kept when keepSlash is true. This is smithy-go's httpbinding.EscapePath (keepSlash, used for
// the canonical URI) and the SDK's encodeQueryComponent (!keepSlash, a space becomes "%20").
func appendEscaped(b []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved[c] || (keepSlash && c == '/') {
			b = append(b, c)
		} else {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return b
}

// escapedLen is the length appendEscaped would produce.
func escapedLen(s string, keepSlash bool) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; !unreserved[c] && !(keepSlash && c == '/') {
			n += 2
		}
	}
	return n
}

// escapeComponent returns s escaped for the canonical query string.
func escapeComponent(s string) string {
	if escapedLen(s, false) == len(s) {
		return s
	}
	return string(appendEscaped(make([]byte, 0, escapedLen(s, false)), s, false))
}

// canonicalURI returns the canonical URI of a non-S3 SigV4 request: the path as sent on the wire (already
// percent-encoded by the client) encoded once more, segment-wise ("/" kept). An empty path is "/".
// "/dev/@connections/R0oXAdfD0kwCH6w%3D" becomes "/dev/%40connections/R0oXAdfD0kwCH6w%253D".
func canonicalURI(wirePath string) string {
	if wirePath == "" {
		return "/"
	}
	if escapedLen(wirePath, true) == len(wirePath) {
		return wirePath
	}
	return string(appendEscaped(make([]byte, 0, escapedLen(wirePath, true)), wirePath, true))
}

// requestTarget returns the escaped path and the raw query exactly as the client sent them. It prefers
// r.RequestURI (set by net/http servers for origin-form targets: the bytes on the wire, untouched by
// middleware such as http.StripPrefix) and otherwise falls back to r.URL the way the SDK signer reads it
// (URL.Opaque of the form "//host/path", else URL.EscapedPath()).
func requestTarget(r *http.Request) (path, rawQuery string) {
	if strings.HasPrefix(r.RequestURI, "/") {
		path, rawQuery, _ = strings.Cut(r.RequestURI, "?")
		return path, rawQuery
	}
	u := r.URL
	if u == nil {
		return "/", ""
	}
	if u.Opaque != "" {
		opaque, _, _ := strings.Cut(u.Opaque, "?")
		opaque = strings.TrimPrefix(opaque, "//")
		if i := strings.IndexByte(opaque, '/'); i >= 0 {
			path = opaque[i:]
		}
	} else {
		path = u.EscapedPath()
	}
	return path, u.RawQuery
}

// queryParam is one query parameter: decoded name and value (for lookups) and their canonical encodings.
type queryParam struct {
	name, value       string // decoded
	encName, encValue string // canonical (RFC 3986) encoding
}

// errBadQuery reports a query string that is not valid percent-encoding.
var errBadQuery = errors.New("sigv4: malformed query string")

// errTooManyParams reports a query string with more than maxQueryParams parameters.
var errTooManyParams = errors.New("sigv4: too many query parameters")

// parseQuery splits a raw query the way url.ParseQuery does ('&' separates pairs, the first '=' separates
// name and value, '+' is a space, empty pairs are skipped) except that ';' is an ordinary character, and
// returns the parameters in wire order. Invalid percent-encoding is an error (the SDK would have dropped
// such a pair before signing and rewritten the URL, so no SDK-signed request contains one).
func parseQuery(raw string) ([]queryParam, error) {
	if raw == "" {
		return nil, nil
	}
	// Count the non-empty pairs first (no allocation), so oversized queries are rejected cheaply and the
	// slice is allocated once.
	n := 0
	for rest := raw; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair != "" {
			if n++; n > maxQueryParams {
				return nil, errTooManyParams
			}
		}
	}
	params := make([]queryParam, 0, n)
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, errBadQuery
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, errBadQuery
		}
		params = append(params, queryParam{
			name: name, value: value,
			encName: escapeComponent(name), encValue: escapeComponent(value),
		})
	}
	return params, nil
}

// canonicalQuery returns the canonical query string: every parameter except the one named skip (the
// presigned "X-Amz-Signature"; "" skips nothing), as encName=encValue pairs sorted by encoded name and
// then encoded value (SigV4 sorts after encoding), joined by '&'.
func canonicalQuery(params []queryParam, skip string) string {
	idx := make([]int, 0, len(params))
	size := 0
	for i := range params {
		if skip != "" && params[i].name == skip {
			continue
		}
		idx = append(idx, i)
		size += len(params[i].encName) + len(params[i].encValue) + 2
	}
	if len(idx) == 0 {
		return ""
	}
	sort.Slice(idx, func(a, b int) bool {
		pa, pb := &params[idx[a]], &params[idx[b]]
		if pa.encName != pb.encName {
			return pa.encName < pb.encName
		}
		return pa.encValue < pb.encValue
	})
	var b strings.Builder
	b.Grow(size)
	for i, j := range idx {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(params[j].encName)
		b.WriteByte('=')
		b.WriteString(params[j].encValue)
	}
	return b.String()
}

// stripExcessSpaces trims leading and trailing ' ' and collapses every inner run of ' ' into one, exactly
// like the SDK's v4 StripExcessSpaces (only the space character, not tabs).
func stripExcessSpaces(s string) string {
	i, j := 0, len(s)
	for i < j && s[i] == ' ' {
		i++
	}
	for j > i && s[j-1] == ' ' {
		j--
	}
	s = s[i:j]
	k := strings.Index(s, "  ")
	if k < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:k+1]...)
	for k++; k < len(s); k++ {
		if s[k] == ' ' && s[k-1] == ' ' {
			continue
		}
		b = append(b, s[k])
	}
	return string(b)
}

// isTokenChar reports whether c may appear in an HTTP header field name (RFC 9110 tchar).
func isTokenChar(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseSignedHeaders parses a SignedHeaders list ("host;x-amz-date"): at most maxSignedHeaders names of
// token characters, lower-cased, sorted and de-duplicated (signers always send it so). It returns the names
// and the canonical list text.
func parseSignedHeaders(s string) ([]string, string, *Error) {
	if s == "" {
		return nil, "", newError(ErrIncompleteSignature, "SignedHeaders must not be empty.")
	}
	if strings.Count(s, ";") >= maxSignedHeaders {
		return nil, "", newError(ErrIncompleteSignature,
			"SignedHeaders must not list more than "+strconv.Itoa(maxSignedHeaders)+" headers.")
	}
	names := strings.Split(s, ";")
	lower := true
	for _, n := range names {
		if n == "" {
			return nil, "", newError(ErrIncompleteSignature, "SignedHeaders contains an empty header name.")
		}
		for i := 0; i < len(n); i++ {
			if !isTokenChar(n[i]) {
				return nil, "", newError(ErrIncompleteSignature, "SignedHeaders contains an invalid header name: '"+echo(n)+"'.")
			}
			if 'A' <= n[i] && n[i] <= 'Z' {
				lower = false
			}
		}
	}
	if !lower {
		for i, n := range names {
			names[i] = strings.ToLower(n)
		}
	}
	sorted := sort.StringsAreSorted(names)
	if !sorted {
		sort.Strings(names)
	}
	out := names[:1]
	for _, n := range names[1:] {
		if n != out[len(out)-1] {
			out = append(out, n)
		}
	}
	hasHost := false
	for _, n := range out {
		if n == "host" {
			hasHost = true
			break
		}
	}
	if !hasHost {
		return nil, "", newError(ErrIncompleteSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if len(out) == len(names) && lower && sorted {
		return out, s, nil
	}
	return out, strings.Join(out, ";"), nil
}

// headerValues returns the values of the (lower-case) header name as net/http's server stored them, with
// the fields net/http moves out of Header put back: host from r.Host, content-length from r.ContentLength,
// transfer-encoding from r.TransferEncoding.
func headerValues(r *http.Request, name string) []string {
	if v, ok := r.Header[textproto.CanonicalMIMEHeaderKey(name)]; ok {
		return v
	}
	if v, ok := r.Header[name]; ok {
		return v
	}
	switch name {
	case "content-length":
		if r.ContentLength > 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}
		}
	}
	return nil
}

// requestHost returns the host the client addressed: r.Host, else r.URL.Host.
func requestHost(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	if r.URL != nil {
		return r.URL.Host
	}
	return ""
}

// appendCanonicalHeaders appends "name:value\n" for every signed header: host is stripExcessSpaces(host);
// other values are each space-collapsed and trimmed, then joined with ','; a missing header has an empty
// value. This mirrors the SDK's buildCanonicalHeaders.
func appendCanonicalHeaders(b []byte, r *http.Request, names []string) []byte {
	for _, n := range names {
		b = append(b, n...)
		b = append(b, ':')
		if n == "host" {
			b = append(b, stripExcessSpaces(requestHost(r))...)
		} else {
			for i, v := range headerValues(r, n) {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, strings.TrimSpace(stripExcessSpaces(v))...)
			}
		}
		b = append(b, '\n')
	}
	return b
}

// canonicalRequest assembles the canonical request:
//
//	METHOD \n canonical URI \n canonical query \n canonical headers (each ending in \n) \n signed headers \n payload hash
func canonicalRequest(r *http.Request, uri, query string, names []string, signedHeaders, payloadHash string) string {
	b := make([]byte, 0, len(r.Method)+len(uri)+len(query)+len(signedHeaders)+len(payloadHash)+64*len(names)+8)
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = append(b, uri...)
	b = append(b, '\n')
	b = append(b, query...)
	b = append(b, '\n')
	b = appendCanonicalHeaders(b, r, names)
	b = append(b, '\n')
	b = append(b, signedHeaders...)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	return string(b)
}
