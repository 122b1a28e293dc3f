// Package sigv4 verifies AWS Signature Version 4 (SigV4) signed HTTP requests on the server side, the way
// Amazon API Gateway checks AWS_IAM-authorised WebSocket handshakes and @connections management calls.
//
// It recomputes the signature from the incoming request and compares it in constant time. Both forms are
// supported: the Authorization header ("AWS4-HMAC-SHA256 Credential=AKID/yyyymmdd/region/service/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=hex") and presigned URLs (X-Amz-Algorithm, X-Amz-Credential,
// X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Signature, optional X-Amz-Expires and X-Amz-Security-Token).
//
// The canonical request follows aws-sdk-go-v2's v4 signer (the test oracle) for non-S3 services:
//   - the URI is the path as sent on the wire, percent-encoded once more segment-wise ("double encoding"),
//     so "/dev/@connections/abc%3D" canonicalises to "/dev/%40connections/abc%253D";
//   - the query is decoded ('+' is a space), each name and value re-encoded with RFC 3986 rules and the
//     pairs sorted after encoding; presigned requests leave X-Amz-Signature out;
//   - signed headers are lower-cased and sorted, values trimmed with inner runs of spaces collapsed,
//     repeated headers joined with ','; host comes from r.Host;
//   - the payload hash is X-Amz-Content-Sha256 if present (a hex digest must match the body), else the
//     SHA-256 of the body; presigned requests without that header may sign "UNSIGNED-PAYLOAD" (the AWS SDKs
//     and botocore) or the SHA-256 of the body (aws4, aws4fetch, Amplify), and both are accepted.
//
// The package is a leaf: it imports only the standard library.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults and limits.
const (
	// DefaultService is the signing name used when Verifier.Service is empty.
	DefaultService = "execute-api"
	// DefaultMaxSkew is the allowed clock skew when Verifier.MaxSkew is zero.
	DefaultMaxSkew = 15 * time.Minute
	// MaxPresignExpires is the largest X-Amz-Expires accepted (7 days, in seconds).
	MaxPresignExpires = 604800

	// Algorithm is the only signing algorithm supported.
	Algorithm = "AWS4-HMAC-SHA256"
	// UnsignedPayload is the payload hash that leaves the body unsigned.
	UnsignedPayload = "UNSIGNED-PAYLOAD"

	terminator      = "aws4_request"
	timeFormat      = "20060102T150405Z"
	shortTimeFormat = "20060102"

	// maxAuthorizationLen bounds the Authorization header; longer ones are rejected unparsed.
	maxAuthorizationLen = 8 << 10
	// maxSignedHeaders bounds the number of entries in SignedHeaders.
	maxSignedHeaders = 64
	// maxQueryParams bounds the number of query parameters of a request that is verified.
	maxQueryParams = 1000
	// maxRequestTargetLen bounds the length of path plus query of a request that is verified.
	maxRequestTargetLen = 32 << 10
)

// Query parameter names of presigned requests (case-sensitive, as AWS treats them).
const (
	paramAlgorithm     = "X-Amz-Algorithm"
	paramCredential    = "X-Amz-Credential"
	paramDate          = "X-Amz-Date"
	paramExpires       = "X-Amz-Expires"
	paramSignedHeaders = "X-Amz-SignedHeaders"
	paramSignature     = "X-Amz-Signature"
	paramSecurityToken = "X-Amz-Security-Token"
)

// Credentials looks up the secret access key for an access key id; ok is false for unknown keys.
// Implementations must be safe for concurrent use if the Verifier is used concurrently.
type Credentials interface {
	Secret(accessKeyID string) (secret string, ok bool)
}

// StaticCredentials is a fixed map from access key id to secret access key.
type StaticCredentials map[string]string

// Secret implements Credentials.
func (c StaticCredentials) Secret(accessKeyID string) (string, bool) {
	s, ok := c[accessKeyID]
	return s, ok
}

// Verifier verifies SigV4 signatures. Its fields are read-only after construction and Verify is safe for
// concurrent use (given a concurrency-safe Credentials).
type Verifier struct {
	// Service is the signing name the credential scope must name; empty means DefaultService
	// ("execute-api").
	Service string
	// Region is the region the credential scope must name; empty accepts any region (the region is part
	// of the derived key either way, so this does not weaken the signature check).
	Region string
	// Credentials resolves access key ids; nil treats every key as unknown.
	Credentials Credentials
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxSkew is the allowed difference between the request date and Now; zero or negative means
	// DefaultMaxSkew (15 minutes).
	MaxSkew time.Duration
}

// Identity describes the caller of a verified request.
type Identity struct {
	// AccessKeyID is the access key id from the credential scope.
	AccessKeyID string
	// SessionToken is X-Amz-Security-Token (header, or query for presigned URLs); empty if absent.
	SessionToken string
	// Presigned is true when the signature came from the query string rather than Authorization.
	Presigned bool
	// UnsignedPayload is true when the signature does not cover the body (payload hash
	// "UNSIGNED-PAYLOAD"). Always false when the body is empty and was signed as such.
	UnsignedPayload bool
}

// authInput is what Verify extracts from either form of authentication.
type authInput struct {
	credential    string // AKID/yyyymmdd/region/service/aws4_request
	signedHeaders string // "host;x-amz-date"
	signature     string // hex
	amzDate       string // yyyymmddThhmmssZ as it enters the string to sign
	when          time.Time
	expires       int64 // presigned X-Amz-Expires seconds; 0 when absent
	token         string
	presigned     bool
}

// Verify checks the signature of r, an incoming server request (its RequestURI is used as the wire path
// and query when set), whose body the caller has already read into body (nil for GET and handshakes).
// Verify never reads r.Body. It returns the caller's identity, or an *Error whose Kind is one of the
// package's sentinel errors.
func (v *Verifier) Verify(r *http.Request, body []byte) (*Identity, error) {
	if r == nil {
		return nil, newError(ErrMissingAuthentication, "")
	}
	path, rawQuery := requestTarget(r)
	authz := r.Header["Authorization"]
	hasHeader := len(authz) > 1 || (len(authz) == 1 && authz[0] != "")
	if len(path)+len(rawQuery) > maxRequestTargetLen {
		if !hasHeader && !strings.Contains(rawQuery, "X-Amz-") {
			return nil, newError(ErrMissingAuthentication, "")
		}
		return nil, newError(ErrIncompleteSignature, "The request URI is too long to verify.")
	}
	params, err := parseQuery(rawQuery)
	if err != nil {
		if !hasHeader && !strings.Contains(rawQuery, "X-Amz-") {
			return nil, newError(ErrMissingAuthentication, "")
		}
		if err == errTooManyParams {
			return nil, newError(ErrIncompleteSignature, "The query string has too many parameters to verify.")
		}
		return nil, newError(ErrIncompleteSignature, "The query string is not validly percent-encoded.")
	}

	var in authInput
	var aerr *Error
	switch q, presigned, qerr := presignParams(params); {
	case qerr != nil:
		return nil, qerr
	case hasHeader && presigned:
		return nil, newError(ErrIncompleteSignature, "Only one auth mechanism allowed; only the X-Amz-Algorithm "+
			"query parameter, Signature query string parameter or the Authorization header should be specified.")
	case hasHeader:
		in, aerr = headerAuth(r, authz)
	case presigned:
		in, aerr = queryAuth(q)
	default:
		return nil, newError(ErrMissingAuthentication, "")
	}
	if aerr != nil {
		return nil, aerr
	}
	return v.verify(r, body, path, params, &in)
}

// Indexes of the presigned-URL authentication parameters in presignValues.
const (
	iAlgorithm = iota
	iCredential
	iDate
	iExpires
	iSignedHeaders
	iSignature
	iSecurityToken
	nPresignParams
)

// presignParamNames are the query parameter names, indexed like presignValues.
var presignParamNames = [nPresignParams]string{
	paramAlgorithm, paramCredential, paramDate, paramExpires, paramSignedHeaders, paramSignature, paramSecurityToken,
}

// presignValues holds the presigned-URL query parameters: value[i] and has[i] for presignParamNames[i].
type presignValues struct {
	value [nPresignParams]string
	has   [nPresignParams]bool
}

// presignParams picks the X-Amz-* authentication parameters out of the query. presigned reports whether
// the query attempts query authentication (X-Amz-Algorithm, X-Amz-Credential or X-Amz-Signature present).
// A repeated authentication parameter is an error.
func presignParams(params []queryParam) (q presignValues, presigned bool, err *Error) {
	for i := range params {
		p := &params[i]
		if !strings.HasPrefix(p.name, "X-Amz-") {
			continue
		}
		for j, name := range presignParamNames {
			if p.name != name {
				continue
			}
			if q.has[j] {
				return q, false, newError(ErrIncompleteSignature, "The query-string parameter '"+name+"' must not be repeated.")
			}
			q.has[j], q.value[j] = true, p.value
			break
		}
	}
	return q, q.has[iAlgorithm] || q.has[iCredential] || q.has[iSignature], nil
}

// queryAuth validates the presigned-URL parameters.
func queryAuth(q presignValues) (authInput, *Error) {
	var missing []string
	for _, i := range [...]int{iAlgorithm, iCredential, iSignature, iSignedHeaders, iDate} {
		if !q.has[i] {
			missing = append(missing, "'"+presignParamNames[i]+"'")
		}
	}
	if len(missing) > 0 {
		return authInput{}, newError(ErrIncompleteSignature, "AWS query-string parameters must include "+
			strings.Join(missing, ", ")+". Re-examine the query-string parameters.")
	}
	if alg := q.value[iAlgorithm]; alg != Algorithm {
		return authInput{}, newError(ErrIncompleteSignature, "X-Amz-Algorithm only supports \""+Algorithm+"\", got '"+echo(alg)+"'.")
	}
	in := authInput{
		credential:    q.value[iCredential],
		signedHeaders: q.value[iSignedHeaders],
		signature:     q.value[iSignature],
		amzDate:       q.value[iDate],
		token:         q.value[iSecurityToken],
		presigned:     true,
	}
	if q.has[iExpires] {
		exp := q.value[iExpires]
		n, ok := parseSeconds(exp)
		if !ok || n < 1 || n > MaxPresignExpires {
			return authInput{}, newError(ErrIncompleteSignature, "X-Amz-Expires must be an integer number of seconds between 1 and "+
				strconv.Itoa(MaxPresignExpires)+" (one week), got '"+echo(exp)+"'.")
		}
		in.expires = n
	}
	t, err := parseAmzDate(in.amzDate)
	if err != nil {
		return authInput{}, err
	}
	in.when = t
	return in, nil
}

// parseSeconds parses a short run of decimal digits (no sign, at most 9 digits).
func parseSeconds(s string) (int64, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// parseAmzDate parses an ISO-8601 basic-format UTC timestamp (yyyymmddThhmmssZ).
func parseAmzDate(s string) (time.Time, *Error) {
	if len(s) == len(timeFormat) {
		if t, err := time.Parse(timeFormat, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, newError(ErrIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '"+echo(s)+
		"'. See http://en.wikipedia.org/wiki/ISO_8601")
}

// headerAuth parses the Authorization header and the request date (X-Amz-Date, else Date).
func headerAuth(r *http.Request, authz []string) (authInput, *Error) {
	if len(authz) > 1 {
		return authInput{}, newError(ErrIncompleteSignature, "The request must not carry more than one Authorization header.")
	}
	h := authz[0]
	if len(h) > maxAuthorizationLen {
		return authInput{}, newError(ErrIncompleteSignature, "The Authorization header is longer than "+
			strconv.Itoa(maxAuthorizationLen)+" bytes.")
	}
	alg, rest, _ := strings.Cut(strings.TrimLeft(h, " "), " ")
	var in authInput
	var seen [3]bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		k, val, ok := strings.Cut(strings.Trim(part, " "), "=")
		if !ok {
			continue
		}
		var dst *string
		var slot int
		switch k {
		case "Credential":
			dst, slot = &in.credential, 0
		case "SignedHeaders":
			dst, slot = &in.signedHeaders, 1
		case "Signature":
			dst, slot = &in.signature, 2
		default:
			continue
		}
		if seen[slot] {
			return authInput{}, newError(ErrIncompleteSignature, "The Authorization header parameter '"+k+"' must not be repeated.")
		}
		seen[slot] = true
		*dst = val
	}

	amzDate := ""
	hasDate := false
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		amzDate, hasDate = d, true
	} else if d := r.Header.Get("Date"); d != "" {
		hasDate = true
		t, err := http.ParseTime(d)
		if err != nil {
			return authInput{}, newError(ErrIncompleteSignature, "Date must be in ISO-8601 'basic format' or RFC 7231 format. Got '"+echo(d)+"'.")
		}
		amzDate = t.UTC().Format(timeFormat)
	}

	var msg strings.Builder
	for _, req := range [...]struct {
		name string
		seen bool
	}{{"Credential", seen[0]}, {"Signature", seen[2]}, {"SignedHeaders", seen[1]}} {
		if !req.seen {
			msg.WriteString("Authorization header requires '" + req.name + "' parameter. ")
		}
	}
	if !hasDate {
		msg.WriteString("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
	}
	if msg.Len() > 0 {
		msg.WriteString("Authorization=" + echo(h))
		return authInput{}, newError(ErrIncompleteSignature, msg.String())
	}
	if alg != Algorithm {
		return authInput{}, newError(ErrIncompleteSignature, "Unsupported AWS 'algorithm': '"+echo(alg)+"'; only "+Algorithm+" is supported.")
	}
	t, err := parseAmzDate(amzDate)
	if err != nil {
		return authInput{}, err
	}
	in.amzDate, in.when = amzDate, t
	in.token = r.Header.Get("X-Amz-Security-Token")
	return in, nil
}

// verify runs the checks common to both forms: credential scope, clock, key lookup and the signature.
func (v *Verifier) verify(r *http.Request, body []byte, path string, params []queryParam, in *authInput) (*Identity, error) {
	// Credential scope: AKID/date/region/service/aws4_request.
	parts := strings.SplitN(in.credential, "/", 6)
	if len(parts) != 5 || parts[0] == "" {
		return nil, newError(ErrIncompleteSignature, "Credential must have exactly 5 slash-delimited elements, "+
			"e.g. keyid/date/region/service/term, got '"+echo(in.credential)+"'")
	}
	akid, scopeDate, region, service, term := parts[0], parts[1], parts[2], parts[3], parts[4]

	names, signedHeaders, herr := parseSignedHeaders(in.signedHeaders)
	if herr != nil {
		return nil, herr
	}

	if scopeDate != in.amzDate[:8] {
		return nil, newError(ErrWrongScope, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '"+
			echo(scopeDate)+"' != '"+in.amzDate[:8]+"', from '"+in.amzDate+"'.")
	}
	if v.Region != "" && region != v.Region {
		return nil, newError(ErrWrongScope, "Credential should be scoped to a valid region, not '"+echo(region)+"'. ")
	}
	wantService := v.Service
	if wantService == "" {
		wantService = DefaultService
	}
	if service != wantService {
		return nil, newError(ErrWrongScope, "Credential should be scoped to correct service: '"+wantService+"'. ")
	}
	if term != terminator {
		return nil, newError(ErrWrongScope, "Credential should be scoped with a valid terminator: '"+terminator+"', not '"+echo(term)+"'. ")
	}

	if err := v.checkTime(in); err != nil {
		return nil, err
	}

	var secret string
	ok := false
	if v.Credentials != nil {
		secret, ok = v.Credentials.Secret(akid)
	}
	if !ok {
		return nil, newError(ErrUnknownAccessKey, "")
	}

	// Payload hash candidates.
	var candidates [2]string
	n := 0
	unsigned := false
	if sums := r.Header["X-Amz-Content-Sha256"]; len(sums) > 0 {
		sum := sums[0]
		switch {
		case sum == UnsignedPayload:
			unsigned = true
		case len(sum) == sha256.Size*2 && isHex(sum):
			if !strings.EqualFold(sum, bodyHash(body)) {
				return nil, newError(ErrInvalidSignature, "The provided 'x-amz-content-sha256' header does not match what was computed.")
			}
		default:
			return nil, newError(ErrIncompleteSignature, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the hex SHA-256 of the body, got '"+echo(sum)+"'.")
		}
		candidates[0], n = sum, 1
	} else if in.presigned {
		candidates[0], candidates[1], n = UnsignedPayload, bodyHash(body), 2
	} else {
		candidates[0], n = bodyHash(body), 1
	}

	skip := ""
	if in.presigned {
		skip = paramSignature
	}
	uri := canonicalURI(path)
	query := canonicalQuery(params, skip)
	scope := scopeDate + "/" + region + "/" + service + "/" + terminator
	key := deriveKey(secret, scopeDate, region, service)
	want, decErr := hex.DecodeString(in.signature)
	if decErr != nil || len(want) != sha256.Size {
		want = nil
	}

	var firstCR, firstSTS string
	for i := 0; i < n; i++ {
		cr := canonicalRequest(r, uri, query, names, signedHeaders, candidates[i])
		sts := stringToSign(in.amzDate, scope, cr)
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(sts))
		if want != nil && hmac.Equal(mac.Sum(nil), want) {
			return &Identity{
				AccessKeyID:     akid,
				SessionToken:    in.token,
				Presigned:       in.presigned,
				UnsignedPayload: unsigned || candidates[i] == UnsignedPayload,
			}, nil
		}
		if i == 0 {
			firstCR, firstSTS = cr, sts
		}
	}
	e := newError(ErrInvalidSignature, "")
	e.CanonicalRequest, e.StringToSign = firstCR, firstSTS
	return nil, e
}

// checkTime enforces the clock-skew window (header auth, and presigned URLs without X-Amz-Expires) or the
// presigned validity window [X-Amz-Date - MaxSkew, X-Amz-Date + X-Amz-Expires].
func (v *Verifier) checkTime(in *authInput) *Error {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	now = now.UTC()
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	if in.when.After(now.Add(skew)) {
		return newError(ErrExpired, "Signature not yet current: "+in.amzDate+" is still later than "+
			now.Add(skew).Format(timeFormat)+" ("+now.Format(timeFormat)+" + "+skewText(skew)+")")
	}
	if in.presigned && in.expires > 0 {
		end := in.when.Add(time.Duration(in.expires) * time.Second)
		if now.After(end) {
			return newError(ErrExpired, "Signature expired: "+end.Format(timeFormat)+" is now earlier than "+
				now.Format(timeFormat)+" ("+in.amzDate+" + "+strconv.FormatInt(in.expires, 10)+" sec.)")
		}
		return nil
	}
	if in.when.Before(now.Add(-skew)) {
		return newError(ErrExpired, "Signature expired: "+in.amzDate+" is now earlier than "+
			now.Add(-skew).Format(timeFormat)+" ("+now.Format(timeFormat)+" - "+skewText(skew)+")")
	}
	return nil
}

// skewText renders a skew the way AWS does ("15 min.").
func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min."
	}
	return d.String() + "."
}

// isHex reports whether s is non-empty hexadecimal.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// bodyHash returns the lower-case hex SHA-256 of body.
func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// stringToSign returns "AWS4-HMAC-SHA256\n<amzDate>\n<scope>\n<hex sha256(canonical request)>".
func stringToSign(amzDate, scope, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	var b strings.Builder
	b.Grow(len(Algorithm) + len(amzDate) + len(scope) + 2*sha256.Size + 3)
	b.WriteString(Algorithm)
	b.WriteByte('\n')
	b.WriteString(amzDate)
	b.WriteByte('\n')
	b.WriteString(scope)
	b.WriteByte('\n')
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	b.Write(h[:])
	return b.String()
}

// hmacSHA256 returns HMAC-SHA256(key, data).
func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// deriveKey derives the signing key: HMAC chain over date, region, service and "aws4_request", keyed
// initially with "AWS4"+secret.
func deriveKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, terminator)
}
