// Package jsonscan reads the tokens of JSON text that the project's own JSON decoders share (a string,
// a number, white space), each as encoding/json reads it. Those decoders (schema's, for validated
// request bodies and messages, and vtl's, for $input.path and $util.parseJson) build values of their
// own types and run on every message, where encoding/json's decoder costs several times as much.
package jsonscan

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// SyntaxError is a string that is not one, at byte Offset of the text.
type SyntaxError struct {
	Offset int
	Msg    string
}

// Error returns the message with its offset.
func (e *SyntaxError) Error() string {
	return "JSON at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Space returns the index of the first byte at or after i that is not JSON white space.
func Space(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Number reads the JSON number at b[i] ('-' or a digit) and returns the index after it and whether it
// has a fraction or an exponent; ok is false when the text there is not a JSON number (a leading zero
// followed by digits, a '.' or exponent without digits).
func Number(b []byte, i int) (next int, isFloat, ok bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	intStart := i
	if i = digits(b, i); i == intStart || i-intStart > 1 && b[intStart] == '0' {
		return i, false, false
	}
	if i < len(b) && b[i] == '.' {
		isFloat = true
		i++
		d := digits(b, i)
		if d == i {
			return i, false, false
		}
		i = d
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isFloat = true
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := digits(b, i)
		if d == i {
			return i, false, false
		}
		i = d
	}
	return i, isFloat, true
}

// digits returns the index of the first byte at or after i that is not a decimal digit.
func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// String reads the JSON string whose opening quote is b[i] and returns its value and the index after
// its closing quote. Escapes are decoded as encoding/json decodes them: a \u escape of a UTF-16
// surrogate pair is one character; a surrogate escape that is not half of a valid pair is U+FFFD, and
// the escape after it, if any, is read on its own (it is not swallowed with it). Invalid UTF-8 in the
// text is U+FFFD too. An error is a *SyntaxError: a control character, a bad escape, no closing quote.
func String(b []byte, i int) (s string, next int, err error) {
	i++
	start := i
	for i < len(b) {
		c := b[i]
		if c == '"' {
			return string(b[start:i]), i + 1, nil
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
		i++
	}
	buf := append([]byte(nil), b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return string(buf), i + 1, nil
		case c < 0x20:
			return "", i, &SyntaxError{Offset: i, Msg: "control character in a string"}
		case c == '\\':
			if i+1 >= len(b) {
				return "", i, &SyntaxError{Offset: i, Msg: "unexpected end in a string"}
			}
			e := b[i+1]
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok {
					return "", i, &SyntaxError{Offset: i, Msg: `bad \u escape`}
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// The next escape completes the pair, or is not consumed: encoding/json's unquote.
					if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if r2, ok := hex4(b, i+2); ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								buf = utf8.AppendRune(buf, dec)
								i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
				continue
			default:
				return "", i, &SyntaxError{Offset: i, Msg: `bad escape \` + string(rune(e))}
			}
			i += 2
		case c >= 0x80:
			r, n := utf8.DecodeRune(b[i:])
			buf = utf8.AppendRune(buf, r)
			i += n
		default:
			buf = append(buf, c)
			i++
		}
	}
	return "", i, &SyntaxError{Offset: i, Msg: "unexpected end in a string"}
}

// hex4 reads the four hexadecimal digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if len(b)-i < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i:i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}
