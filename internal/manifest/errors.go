package manifest

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Error is one problem found in one manifest document or object.
type Error struct {
	// Source is the file, with "#N" for the Nth document of a multi-document file.
	Source string
	// Line is the 1-based line in the file that the problem was found on, or 0 when unknown.
	Line int
	// Kind, Namespace and Name identify the object. All are empty when the
	// document could not be read as an object.
	Kind      string
	Namespace string
	Name      string
	// Field is the JSON path of the offending field, for example
	// "spec.flows[0].to", or empty when the problem is the whole object.
	Field string
	// Detail is the problem and, where known, its fix. For schema
	// and CEL errors it is the API server's message, for example
	// `Unsupported value: "TOP-SECRET": supported values: "OFFICIAL", ...`.
	Detail string
}

// Error formats the problem as "SOURCE: KIND NAMESPACE/NAME: FIELD: DETAIL",
// leaving out the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Kind != "" || e.Name != "" {
		b.WriteString(": ")
		b.WriteString(e.Object())
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Detail)
	return b.String()
}

// Object returns the object as "Kind namespace/name", or "Kind name" for a
// cluster-scoped object.
func (e *Error) Object() string {
	return describe(e.Kind, e.Namespace, e.Name)
}

func describe(kind, namespace, name string) string {
	if kind == "" {
		kind = "object"
	}
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}

// ErrorList is every problem found by Load or Decode, in input order.
type ErrorList []*Error

// Error lists the problems one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems so that errors.As finds each *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// err returns l as an error, or nil when l is empty, so callers never see a
// non-nil error interface that holds an empty list.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// objectErrors builds Errors for one object.
type objectErrors struct {
	source    string
	line      int
	kind      string
	namespace string
	name      string
	list      *ErrorList
}

func (o objectErrors) add(fieldPath, detail string) {
	*o.list = append(*o.list, &Error{
		Source:    o.source,
		Line:      o.line,
		Kind:      o.kind,
		Namespace: o.namespace,
		Name:      o.name,
		Field:     fieldPath,
		Detail:    detail,
	})
}

func (o objectErrors) addf(fieldPath, format string, args ...any) {
	o.add(fieldPath, fmt.Sprintf(format, args...))
}

// addField adds the API server's field errors unchanged, so the messages
// match what `kubectl apply` would print.
func (o objectErrors) addField(errs field.ErrorList) {
	for _, fe := range errs {
		o.add(fieldPathOf(fe), fe.ErrorBody())
	}
}

// fieldPathOf returns the error's field, mapping the root (which the field
// package prints as "<nil>") to the empty string.
func fieldPathOf(fe *field.Error) string {
	if fe.Field == "<nil>" {
		return ""
	}
	return fe.Field
}
