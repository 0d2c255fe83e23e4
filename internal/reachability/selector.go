package reachability

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// compileSelector converts a label selector with the standard semantics: an
// empty selector selects everything and a nil one selects nothing. The error
// names the selector's first invalid requirement.
func compileSelector(selector *metav1.LabelSelector) (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(selector)
}

// selectorsMayOverlap reports whether some label set matches both a and b.
// Requirements on different keys are independent and label values are
// unbounded, so the conjunction is unsatisfiable only when the requirements
// on one key contradict each other. The result is therefore exact for
// selectors built by compileSelector.
func selectorsMayOverlap(a, b labels.Selector) bool {
	requirementsA, selectableA := a.Requirements()
	requirementsB, selectableB := b.Requirements()
	if !selectableA || !selectableB {
		// labels.Nothing() reports itself as not selectable.
		return false
	}

	constraints := map[string]*keyConstraint{}
	for _, requirement := range append(append(labels.Requirements{}, requirementsA...), requirementsB...) {
		constraint := constraints[requirement.Key()]
		if constraint == nil {
			constraint = &keyConstraint{}
			constraints[requirement.Key()] = constraint
		}
		constraint.add(requirement)
	}

	for _, constraint := range constraints {
		if !constraint.satisfiable() {
			return false
		}
	}
	return true
}

// keyConstraint is the conjunction of all requirements on one label key.
type keyConstraint struct {
	mustExist    bool
	mustNotExist bool
	// allowed is nil when no In or Equals requirement restricts the value.
	allowed   map[string]bool
	forbidden map[string]bool
}

func (c *keyConstraint) add(requirement labels.Requirement) {
	switch requirement.Operator() {
	case selection.Equals, selection.DoubleEquals, selection.In:
		c.mustExist = true
		values := map[string]bool{}
		for _, value := range requirement.ValuesUnsorted() {
			if c.allowed == nil || c.allowed[value] {
				values[value] = true
			}
		}
		c.allowed = values
	case selection.NotEquals, selection.NotIn:
		if c.forbidden == nil {
			c.forbidden = map[string]bool{}
		}
		for _, value := range requirement.ValuesUnsorted() {
			c.forbidden[value] = true
		}
	case selection.DoesNotExist:
		c.mustNotExist = true
	default:
		// Exists, and the numeric comparisons that metav1 selectors never
		// produce, need the key. Treating them as Exists can only report an
		// overlap that does not exist, never hide one.
		c.mustExist = true
	}
}

func (c *keyConstraint) satisfiable() bool {
	if c.mustExist && c.mustNotExist {
		return false
	}
	if c.allowed == nil {
		return true
	}
	for value := range c.allowed {
		if !c.forbidden[value] {
			return true
		}
	}
	return false
}
