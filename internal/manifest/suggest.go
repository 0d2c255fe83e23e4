package manifest

import (
	"regexp"
	"sort"
	"strings"

	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
)

// pathElement matches one step of a field path as the pruning code writes
// it: a field name, optionally followed by list indexes, as in "flows[0]".
var pathElement = regexp.MustCompile(`^([^\[\]]*)((?:\[\d+\])*)$`)

// closestField returns the field of the object that holds the unknown field
// at path (for example "spec.clasification") whose name is nearest to it,
// or "" when no name is near enough to be a likely misspelling.
func closestField(root *structuralschema.Structural, path string) string {
	steps := strings.Split(path, ".")
	s := root
	for _, step := range steps[:len(steps)-1] {
		match := pathElement.FindStringSubmatch(step)
		if match == nil || s == nil {
			return ""
		}
		s = child(s, match[1])
		for range strings.Count(match[2], "[") {
			if s == nil {
				return ""
			}
			s = s.Items
		}
	}
	if s == nil {
		return ""
	}

	unknown := steps[len(steps)-1]
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	sort.Strings(names)

	best, bestDistance := "", len(unknown)
	for _, name := range names {
		if d := editDistance(strings.ToLower(unknown), strings.ToLower(name)); d < bestDistance {
			best, bestDistance = name, d
		}
	}
	// A third of the length allows one slip in a short name and a few in a
	// long one, without suggesting unrelated names.
	if best == "" || bestDistance > max(1, len(unknown)/3) {
		return ""
	}
	return best
}

func child(s *structuralschema.Structural, name string) *structuralschema.Structural {
	if prop, ok := s.Properties[name]; ok {
		return &prop
	}
	if s.AdditionalProperties != nil {
		return s.AdditionalProperties.Structural
	}
	return nil
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	previous := make([]int, len(b)+1)
	current := make([]int, len(b)+1)
	for j := range previous {
		previous[j] = j
	}
	for i := 1; i <= len(a); i++ {
		current[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			current[j] = min(previous[j]+1, current[j-1]+1, previous[j-1]+cost)
		}
		previous, current = current, previous
	}
	return previous[len(b)]
}
