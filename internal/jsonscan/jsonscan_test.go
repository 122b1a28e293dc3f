package jsonscan

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string
		next     int    // the index after the string
		err      string // the SyntaxError's message; "" for none
	}{
		{name: "plain", in: `"abc"`, want: "abc", next: 5},
		{name: "followed by more", in: `"a",1`, want: "a", next: 3},
		{name: "short escapes", in: `"\"\\\/\b\f\n\r\t"`, want: "\"\\/\b\f\n\r\t", next: 18},
		{name: "a BMP escape", in: `"\u00e9"`, want: "é", next: 8},
		{name: "a surrogate pair", in: `"\ud83d\ude00"`, want: "😀", next: 14},
		{name: "a high surrogate alone", in: `"\ud800"`, want: "\uFFFD", next: 8},
		{name: "a high surrogate before a text", in: `"\ud800x"`, want: "\uFFFDx", next: 9},
		{name: "a high surrogate before an escape that is not its pair", in: `"\ud800\u0041"`, want: "\uFFFDA", next: 14},
		{name: "a high surrogate before a short escape", in: `"\ud800\n"`, want: "\uFFFD\n", next: 10},
		{name: "a low surrogate before a pair", in: `"\udc00\ud800\udc00"`, want: "\uFFFD\U00010000", next: 20},
		{name: "two high surrogates then a low one", in: `"\ud800\ud800\udc00"`, want: "\uFFFD\U00010000", next: 20},
		{name: "a high surrogate before a bad escape", in: `"\ud800\uzzzz"`, err: `bad \u escape`},
		{name: "raw UTF-8", in: `"héllo"`, want: "héllo", next: 8},
		{name: "invalid UTF-8", in: "\"a\xffb\"", want: "a\uFFFDb", next: 5},
		{name: "a control character", in: "\"a\nb\"", err: "control character in a string"},
		{name: "a bad escape", in: `"\x"`, err: `bad escape \x`},
		{name: "a short \\u escape", in: `"\u12"`, err: `bad \u escape`},
		{name: "a sign in a \\u escape", in: `"\u+123"`, err: `bad \u escape`},
		{name: "no closing quote", in: `"abc`, err: "unexpected end in a string"},
		{name: "an escape at the end", in: `"abc\`, err: "unexpected end in a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := String([]byte(tc.in), 0)
			if tc.err != "" {
				var se *SyntaxError
				if !errors.As(err, &se) || se.Msg != tc.err {
					t.Fatalf("String(%q) = %q, %v; want the error %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want || next != tc.next {
				t.Fatalf("String(%q) = %q, %d, %v; want %q, %d", tc.in, got, next, err, tc.want, tc.next)
			}
		})
	}
}

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		name, in    string
		next        int
		isFloat, ok bool
	}{
		{name: "zero", in: "0", next: 1, ok: true},
		{name: "negative integer", in: "-12,", next: 3, ok: true},
		{name: "fraction", in: "2.5]", next: 3, isFloat: true, ok: true},
		{name: "exponent", in: "-3e+2", next: 5, isFloat: true, ok: true},
		{name: "leading zero", in: "01", ok: false},
		{name: "minus alone", in: "-", ok: false},
		{name: "a point without digits", in: "1.", ok: false},
		{name: "an exponent without digits", in: "1e+", ok: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, isFloat, ok := Number([]byte(tc.in), 0)
			if ok != tc.ok || ok && (next != tc.next || isFloat != tc.isFloat) {
				t.Fatalf("Number(%q) = %d, %v, %v; want %d, %v, %v", tc.in, next, isFloat, ok, tc.next, tc.isFloat, tc.ok)
			}
		})
	}
}

// FuzzString holds String to encoding/json: text that is one JSON string (white space may follow) is
// read whole, to the value encoding/json reads; text it reads whole is one JSON string.
func FuzzString(f *testing.F) {
	for _, s := range []string{`"abc"`, `"\ud800\u0041"`, `"\udc00\ud800\udc00"`, `"\ud83d\ude00"`, "\"a\xffb\"", `"\u00e9\n"`, `"\x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != '"' {
			return
		}
		got, next, err := String(b, 0)
		var want string
		werr := json.Unmarshal(b, &want)
		whole := err == nil && Space(b, next) == len(b) // encoding/json allows white space after the value
		if whole != (werr == nil) {
			t.Fatalf("String(%q) = %q, %d, %v; encoding/json: %v", b, got, next, err, werr)
		}
		if whole && got != want {
			t.Fatalf("String(%q) = %q, encoding/json %q", b, got, want)
		}
	})
}

// FuzzNumber holds Number to encoding/json: text that is one JSON number (white space may follow) is
// read whole, and text it reads whole is valid JSON.
func FuzzNumber(f *testing.F) {
	for _, s := range []string{"0", "-12", "2.5", "-3e+2", "01", "-", "1.", "1e+"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != '-' && (b[0] < '0' || b[0] > '9') {
			return
		}
		next, _, ok := Number(b, 0)
		if whole := ok && Space(b, next) == len(b); whole != json.Valid(b) {
			t.Fatalf("Number(%q) = %d, %v; json.Valid %v", b, next, ok, json.Valid(b))
		}
	})
}
