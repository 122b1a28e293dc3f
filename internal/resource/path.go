package resource

import "strconv"

// FieldPath returns the path of the field or map entry name inside parent, in the convention of
// FieldError.Path: FieldPath("apis[0]", "name") is "apis[0].name" and FieldPath("", "apis") is "apis".
// Map keys are appended as they are, dots included ("…requestParameters.integration.request.header.x"),
// so every producer of paths and every adapter that locates them must build them with these two
// functions to agree.
func FieldPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// IndexPath returns the path of element i of the list at parent: IndexPath("apis[0].routes", 2) is
// "apis[0].routes[2]".
func IndexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}
