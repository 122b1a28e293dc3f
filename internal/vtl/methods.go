package vtl

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

// entry is one member of $map.entrySet().
type entry struct {
	key string
	val any
}

func (e *entry) Property(name string) (any, bool) {
	switch name {
	case "key":
		return e.key, true
	case "value":
		return e.val, true
	}
	return nil, false
}

func (e *entry) Call(_ *Renderer, name string, args []any) (any, bool, error) {
	switch name {
	case "getKey":
		return e.key, true, nil
	case "getValue":
		return e.val, true, nil
	case "toString":
		return e.String(), true, nil
	}
	return nil, false, nil
}

func (e *entry) String() string { return e.key + "=" + toString(e.val) }

// call runs a Java method on v. A method that does not exist, or wrong arguments, give null, as
// API Gateway renders them as nothing.
func call(r *Renderer, v any, name string, args []any) (any, error) {
	switch x := v.(type) {
	case string:
		return stringMethod(r, x, name, args)
	case *List:
		return listMethod(r, x, name, args)
	case *Map:
		return mapMethod(r, x, name, args)
	case Object:
		res, _, err := x.Call(r, name, args)
		return res, err
	case int64, float64:
		switch name {
		case "toString":
			return toString(x), nil
		case "intValue", "longValue":
			n, _ := toInt(x)
			return n, nil
		case "doubleValue", "floatValue":
			return asFloat(x), nil
		case "equals":
			if len(args) == 1 {
				return valuesEqual(x, args[0]), nil
			}
		}
	case bool:
		switch name {
		case "toString":
			return toString(x), nil
		case "booleanValue":
			return x, nil
		case "equals":
			if len(args) == 1 {
				return valuesEqual(x, args[0]), nil
			}
		}
	}
	return nil, nil
}

func argString(args []any, i int) (string, bool) {
	if i >= len(args) || args[i] == nil {
		return "", false
	}
	if s, ok := args[i].(string); ok {
		return s, true
	}
	return toString(args[i]), true
}

// javaLen is String.length(): UTF-16 code units.
func javaLen(s string) int {
	n := 0
	for _, c := range s {
		if c >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// javaSub is String.substring on UTF-16 indexes; ok is false where Java would throw.
func javaSub(s string, from, to int64) (string, bool) {
	u := utf16.Encode([]rune(s))
	if from < 0 || to > int64(len(u)) || from > to {
		return "", false
	}
	return string(utf16.Decode(u[from:to])), true
}

func javaIndex(s string, byteIdx int) int64 {
	if byteIdx < 0 {
		return -1
	}
	return int64(javaLen(s[:byteIdx]))
}

func stringMethod(r *Renderer, s, name string, args []any) (any, error) {
	n := len(args)
	switch name {
	case "length":
		return int64(javaLen(s)), nil
	case "isEmpty":
		return s == "", nil
	case "toString", "trim", "toLowerCase", "toUpperCase":
		switch name {
		case "trim":
			return strings.Trim(s, " \t\n\r\x00\x0b\x0c"), nil
		case "toLowerCase":
			return strings.ToLower(s), nil
		case "toUpperCase":
			return strings.ToUpper(s), nil
		}
		return s, nil
	case "substring":
		from, ok := toInt(firstArg(args))
		if !ok {
			return nil, nil
		}
		to := int64(javaLen(s))
		if n > 1 {
			if to, ok = toInt(args[1]); !ok {
				return nil, nil
			}
		}
		sub, ok := javaSub(s, from, to)
		if !ok {
			return nil, fmt.Errorf("substring(%d, %d) out of range for a string of length %d", from, to, javaLen(s))
		}
		return sub, nil
	case "charAt":
		i, ok := toInt(firstArg(args))
		if !ok {
			return nil, nil
		}
		sub, ok := javaSub(s, i, i+1)
		if !ok {
			return nil, fmt.Errorf("charAt(%d) out of range for a string of length %d", i, javaLen(s))
		}
		return sub, nil
	case "indexOf", "lastIndexOf", "contains", "startsWith", "endsWith", "equals", "equalsIgnoreCase", "concat", "compareTo", "matches", "split":
		a, ok := argString(args, 0)
		if !ok {
			if name == "equals" {
				return false, nil
			}
			return nil, nil
		}
		switch name {
		case "indexOf":
			return javaIndex(s, strings.Index(s, a)), nil
		case "lastIndexOf":
			return javaIndex(s, strings.LastIndex(s, a)), nil
		case "contains":
			return strings.Contains(s, a), nil
		case "startsWith":
			return strings.HasPrefix(s, a), nil
		case "endsWith":
			return strings.HasSuffix(s, a), nil
		case "equals":
			_, isStr := args[0].(string)
			return isStr && s == a, nil
		case "equalsIgnoreCase":
			return strings.EqualFold(s, a), nil
		case "concat":
			if err := r.spend(len(s) + len(a)); err != nil {
				return nil, err
			}
			return s + a, nil
		case "compareTo":
			return int64(strings.Compare(s, a)), nil
		case "matches":
			re, err := compileJavaRegex(r, "^(?:"+a+")$")
			if err != nil {
				return nil, err
			}
			return re.MatchString(s), nil
		case "split":
			re, err := compileJavaRegex(r, a)
			if err != nil {
				return nil, err
			}
			if err := r.spend(len(s)); err != nil {
				return nil, err
			}
			parts := re.Split(s, -1)
			// Java drops trailing empty strings, and a leading empty one produced by a zero-width match.
			for len(parts) > 0 && parts[len(parts)-1] == "" {
				parts = parts[:len(parts)-1]
			}
			l := &List{Items: make([]any, len(parts))}
			for i, p := range parts {
				l.Items[i] = p
			}
			return l, nil
		}
	case "replace", "replaceAll", "replaceFirst":
		a, ok1 := argString(args, 0)
		b, ok2 := argString(args, 1)
		if !ok1 || !ok2 {
			return nil, nil
		}
		var out string
		switch name {
		case "replace":
			if err := r.spend(len(s) + strings.Count(s, a)*len(b)); err != nil {
				return nil, err
			}
			out = strings.ReplaceAll(s, a, b)
		default:
			re, err := compileJavaRegex(r, a)
			if err != nil {
				return nil, err
			}
			rep := javaReplacement(b)
			if name == "replaceAll" {
				if err := r.spend(len(s) * (1 + len(b))); err != nil {
					return nil, err
				}
				out = re.ReplaceAllString(s, rep)
			} else {
				loc := re.FindStringSubmatchIndex(s)
				if loc == nil {
					return s, nil
				}
				var dst []byte
				dst = re.ExpandString(dst, rep, s, loc)
				out = s[:loc[0]] + string(dst) + s[loc[1]:]
			}
		}
		if err := r.spend(len(out)); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, nil
}

func firstArg(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}

func listMethod(r *Renderer, l *List, name string, args []any) (any, error) {
	switch name {
	case "size":
		return int64(len(l.Items)), nil
	case "isEmpty":
		return len(l.Items) == 0, nil
	case "get":
		return index(l, firstArg(args)), nil
	case "contains":
		for _, it := range l.Items {
			if valuesEqual(it, firstArg(args)) {
				return true, nil
			}
		}
		return false, nil
	case "indexOf":
		for i, it := range l.Items {
			if valuesEqual(it, firstArg(args)) {
				return int64(i), nil
			}
		}
		return int64(-1), nil
	case "add":
		if err := r.spend(16); err != nil {
			return nil, err
		}
		if len(args) == 2 {
			i, ok := toInt(args[0])
			if !ok || i < 0 || i > int64(len(l.Items)) {
				return nil, nil
			}
			l.Items = append(l.Items[:i], append([]any{args[1]}, l.Items[i:]...)...)
			return nil, nil
		}
		l.Items = append(l.Items, firstArg(args))
		return true, nil
	case "addAll":
		if o, ok := firstArg(args).(*List); ok {
			if err := r.spend(16 * len(o.Items)); err != nil {
				return nil, err
			}
			l.Items = append(l.Items, o.Items...)
			return true, nil
		}
	case "set":
		if len(args) == 2 {
			i, ok := toInt(args[0])
			if ok && i >= 0 && i < int64(len(l.Items)) {
				old := l.Items[i]
				l.Items[i] = args[1]
				return old, nil
			}
		}
	case "remove":
		if i, ok := firstArg(args).(int64); ok {
			if i >= 0 && i < int64(len(l.Items)) {
				old := l.Items[i]
				l.Items = append(l.Items[:i], l.Items[i+1:]...)
				return old, nil
			}
			return nil, nil
		}
		for i, it := range l.Items {
			if valuesEqual(it, firstArg(args)) {
				l.Items = append(l.Items[:i], l.Items[i+1:]...)
				return true, nil
			}
		}
		return false, nil
	case "toString":
		return toString(l), nil
	}
	return nil, nil
}

func mapMethod(r *Renderer, m *Map, name string, args []any) (any, error) {
	switch name {
	case "get":
		if k, ok := argString(args, 0); ok {
			return m.m[k], nil
		}
		return nil, nil
	case "put":
		if len(args) != 2 {
			return nil, nil
		}
		k, _ := argString(args, 0)
		if err := r.spend(16 + len(k)); err != nil {
			return nil, err
		}
		return m.Put(k, args[1]), nil
	case "putAll":
		if o, ok := firstArg(args).(*Map); ok {
			if err := r.spend(16 * len(o.keys)); err != nil {
				return nil, err
			}
			for _, k := range o.keys {
				m.Put(k, o.m[k])
			}
		}
		return nil, nil
	case "remove":
		k, _ := argString(args, 0)
		return m.remove(k), nil
	case "containsKey":
		k, _ := argString(args, 0)
		_, ok := m.m[k]
		return ok, nil
	case "containsValue":
		for _, k := range m.keys {
			if valuesEqual(m.m[k], firstArg(args)) {
				return true, nil
			}
		}
		return false, nil
	case "size":
		return int64(len(m.keys)), nil
	case "isEmpty":
		return len(m.keys) == 0, nil
	case "keySet":
		l := &List{Items: make([]any, len(m.keys))}
		for i, k := range m.keys {
			l.Items[i] = k
		}
		return l, nil
	case "values":
		l := &List{Items: make([]any, len(m.keys))}
		for i, k := range m.keys {
			l.Items[i] = m.m[k]
		}
		return l, nil
	case "entrySet":
		l := &List{Items: make([]any, len(m.keys))}
		for i, k := range m.keys {
			l.Items[i] = &entry{key: k, val: m.m[k]}
		}
		return l, nil
	case "toString":
		return toString(m), nil
	}
	return nil, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var _ = strconv.Itoa
