// Package manifest loads Kubernetes manifests from files and validates the
// estate objects among them offline, with the API server's own schema,
// defaulting and CEL code, so that `estatectl plan` rejects exactly what the
// API server would reject.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one document of a manifest file.
type Object struct {
	// Source is the file path as reached from the path passed to Load, with
	// "#N" appended for the Nth non-empty document when the file has several,
	// for example "examples/estate/workloads/border.yaml#2".
	Source string
	// Line is the 1-based line of the file that the document starts on.
	Line int
	// Object is the document as read, before defaulting.
	Object *unstructured.Unstructured
}

// manifestExtensions are the file name extensions Load reads in a directory.
var manifestExtensions = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// Load reads every *.yaml, *.yml and *.json file under path, recursively and
// sorted by path, skipping files and directories whose names start with "."
// (such as .git). When path is a file, Load reads it whatever its extension.
// Multi-document YAML is split on "---" lines, a file that starts with "{"
// is read as a stream of JSON objects, and empty documents are skipped. Each
// document must be an object with apiVersion, kind and metadata.name.
//
// Load reads every file before it returns. The error, when not nil, is an
// ErrorList with one entry per problem, and the objects that were read
// without problems are returned with it.
func Load(path string) ([]Object, error) {
	files, err := manifestFiles(path)
	if err != nil {
		return nil, err
	}

	var objs []Object
	var errs ErrorList
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, &Error{Source: file, Detail: "failed to read the file: " + pathErrorCause(err)})
			continue
		}
		fileObjs, fileErrs := parseFile(file, data)
		objs = append(objs, fileObjs...)
		errs = append(errs, fileErrs...)
	}
	return objs, errs.err()
}

// manifestFiles returns path itself when it is a file, or the manifest files
// under it, sorted.
func manifestFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, ErrorList{{Source: path, Detail: "failed to read manifests: " + pathErrorCause(err) + ": pass a manifest file or a directory of them"}}
	}
	if !info.IsDir() {
		return []string{path}, nil
	}

	var files []string
	walkErr := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != path && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !manifestExtensions[strings.ToLower(filepath.Ext(p))] {
			return nil
		}
		// A symbolic link counts when it leads to a regular file.
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Stat(p)
			if err != nil || !target.Mode().IsRegular() {
				return nil
			}
		}
		files = append(files, p)
		return nil
	})
	if walkErr != nil {
		return nil, ErrorList{{Source: path, Detail: "failed to list manifests: " + walkErr.Error()}}
	}
	if len(files) == 0 {
		return nil, ErrorList{{Source: path, Detail: "no *.yaml, *.yml or *.json files found: pass the directory that contains the manifests"}}
	}
	sort.Strings(files)
	return files, nil
}

// pathErrorCause drops the path from an *fs.PathError, because every message
// that uses it already starts with the path.
func pathErrorCause(err error) string {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Err.Error()
	}
	return err.Error()
}

// document is one document of a file, converted to JSON.
type document struct {
	line int
	json []byte
	err  *Error // a syntax problem, whose Source parseFile sets
}

// parseFile splits data into documents and returns the objects and problems
// found in them.
func parseFile(file string, data []byte) ([]Object, ErrorList) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark

	var docs []document
	if isJSON(data) {
		docs = splitJSON(data)
	} else {
		docs = splitYAML(data)
	}

	// Empty documents are dropped before numbering, so "#2" is the second
	// document that has content, whatever separators surround it.
	nonEmpty := docs[:0]
	for _, doc := range docs {
		if doc.err != nil || !isNull(doc.json) {
			nonEmpty = append(nonEmpty, doc)
		}
	}

	var objs []Object
	var errs ErrorList
	for i, doc := range nonEmpty {
		source := file
		if len(nonEmpty) > 1 {
			source = file + "#" + strconv.Itoa(i+1)
		}
		if doc.err != nil {
			doc.err.Source = source
			errs = append(errs, doc.err)
			continue
		}
		obj, docErrs := toObject(source, doc)
		errs = append(errs, docErrs...)
		if obj != nil {
			objs = append(objs, Object{Source: source, Line: doc.line, Object: obj})
		}
	}
	return objs, errs
}

func isJSON(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{'
}

func isNull(j []byte) bool {
	trimmed := bytes.TrimSpace(j)
	return len(trimmed) == 0 || string(trimmed) == "null"
}

// splitYAML splits data on document separators with the rule kubectl uses: a
// line that starts with "---" followed by nothing but spaces or a comment.
func splitYAML(data []byte) []document {
	var docs []document
	var current bytes.Buffer
	start := 1
	lineNo := 0
	flush := func() {
		docs = append(docs, yamlDocument(current.Bytes(), start))
		current.Reset()
	}
	for len(data) > 0 {
		lineNo++
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		data = data[len(line):]
		if isSeparator(line) {
			flush()
			start = lineNo + 1
			continue
		}
		current.Write(line)
	}
	flush()
	return docs
}

func isSeparator(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	if !ok {
		return false
	}
	rest = bytes.TrimSpace(rest)
	return len(rest) == 0 || rest[0] == '#'
}

// yamlLinePattern matches the line numbers in go-yaml messages, which count
// from the start of the document rather than the file.
var yamlLinePattern = regexp.MustCompile(`line (\d+)`)

func yamlDocument(text []byte, start int) document {
	j, err := yaml.YAMLToJSONStrict(text)
	if err == nil {
		return document{line: start, json: j}
	}

	line := start
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	found := false
	msg = yamlLinePattern.ReplaceAllStringFunc(msg, func(m string) string {
		n, convErr := strconv.Atoi(strings.TrimPrefix(m, "line "))
		if convErr != nil {
			return m
		}
		abs := start + n - 1
		if !found {
			line, found = abs, true
		}
		return "line " + strconv.Itoa(abs)
	})
	msg = strings.Join(strings.Fields(msg), " ")
	if !found {
		msg += fmt.Sprintf(" (in the document starting at line %d)", start)
	}
	return document{line: start, err: &Error{Line: line, Detail: "invalid YAML: " + msg}}
}

// splitJSON splits a stream of concatenated JSON values, as kubectl accepts
// them. It stops at the first syntax error, because the values after it
// cannot be found reliably.
func splitJSON(data []byte) []document {
	var docs []document
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		start := int(dec.InputOffset())
		for start < len(data) && isJSONSpace(data[start]) {
			start++
		}
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return docs
		}
		if err != nil {
			offset := int(dec.InputOffset())
			var syntaxErr *json.SyntaxError
			if errors.As(err, &syntaxErr) {
				offset = int(syntaxErr.Offset)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				offset = len(data)
			}
			// encoding/json reports the offset just after the byte it rejected.
			line := lineAt(data, max(offset-1, 0))
			docs = append(docs, document{line: lineAt(data, start), err: &Error{
				Line:   line,
				Detail: fmt.Sprintf("invalid JSON: line %d: %v", line, err),
			}})
			return docs
		}
		docs = append(docs, document{line: lineAt(data, start), json: raw})
	}
}

func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// lineAt returns the 1-based line of the byte at offset.
func lineAt(data []byte, offset int) int {
	offset = min(offset, len(data))
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// toObject decodes one document and checks the fields that every manifest
// needs: apiVersion, kind and metadata.name.
func toObject(source string, doc document) (*unstructured.Unstructured, ErrorList) {
	var errs ErrorList
	newErr := func(fieldPath, detail string) *Error {
		return &Error{Source: source, Line: doc.line, Field: fieldPath, Detail: detail}
	}

	var value any
	strictErrs, err := kjson.UnmarshalStrict(doc.json, &value, kjson.DisallowDuplicateFields)
	if err != nil {
		return nil, ErrorList{newErr("", "invalid document: "+err.Error())}
	}
	for _, strictErr := range strictErrs {
		fieldPath := ""
		var fieldErr kjson.FieldError
		if errors.As(strictErr, &fieldErr) {
			fieldPath = fieldErr.FieldPath()
		}
		errs = append(errs, newErr(fieldPath, "Duplicate field: the field is set twice; keep one of the values"))
	}

	content, ok := value.(map[string]any)
	if !ok {
		return nil, append(errs, newErr("", fmt.Sprintf("invalid document: it is a %s, but a manifest must be an object with apiVersion, kind and metadata", jsonTypeName(value))))
	}

	apiVersion, apiVersionOK := content["apiVersion"].(string)
	kind, kindOK := content["kind"].(string)
	metadata, metadataOK := content["metadata"].(map[string]any)
	var name, namespace string
	var nameOK bool
	if metadataOK {
		name, nameOK = metadata["name"].(string)
		namespace, _ = metadata["namespace"].(string)
	}

	identify := func(e *Error) *Error {
		e.Kind, e.Namespace, e.Name = kind, namespace, name
		return e
	}
	if !apiVersionOK || apiVersion == "" {
		errs = append(errs, identify(newErr("apiVersion", `Required value: set apiVersion, for example "estate.homeoffice.gov.uk/v1alpha1"`)))
	}
	if !kindOK || kind == "" {
		errs = append(errs, identify(newErr("kind", `Required value: set kind, for example "Workload"`)))
	}
	if !nameOK || name == "" {
		detail := "Required value: set metadata.name"
		if metadataOK && metadata["generateName"] != nil {
			detail += "; generateName is not supported, because applying the manifests again must update the same objects"
		}
		errs = append(errs, identify(newErr("metadata.name", detail)))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &unstructured.Unstructured{Object: content}, nil
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64, float64:
		return "number"
	default:
		return fmt.Sprintf("%T", v)
	}
}
