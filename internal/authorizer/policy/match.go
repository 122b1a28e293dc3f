package policy

import "unicode/utf8"

// Match reports whether s matches pattern, an IAM wildcard pattern: '*' matches any run of characters
// (including none, and including ':' and '/', as IAM does for ARNs), '?' matches exactly one character,
// every other byte matches itself. Matching is case-sensitive; callers lower-case both sides for the
// case-insensitive parts of IAM (action names).
//
// It runs in O(len(pattern)·len(s)) at worst with no allocation, so that a hostile authorizer response
// cannot make evaluation exponential.
func Match(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0 // the last '*' seen and where in s its match currently ends
	for sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				_, n := utf8.DecodeRuneInString(s[sx:])
				px++
				sx += n
				continue
			default:
				if c == s[sx] {
					px++
					sx++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' swallow one more character and retry from just after it.
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		px, sx = starP+1, starS
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
