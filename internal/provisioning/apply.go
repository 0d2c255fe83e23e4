package provisioning

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// AnnotationDesiredHash contains a hash of the desired object as last
// applied. It distinguishes an object whose desired state changed (the hash
// differs) from one changed by hand on the site (the hash matches, the
// fields do not).
const AnnotationDesiredHash = "estate.homeoffice.gov.uk/desired-hash"

// Kind is a kind of object that Build returns.
type Kind struct {
	schema.GroupVersionKind
	// Namespaced is false for cluster-scoped kinds such as Namespace.
	Namespaced bool
}

var kinds = []Kind{
	{GroupVersionKind: schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}},
	{GroupVersionKind: schema.GroupVersionKind{Version: "v1", Kind: "LimitRange"}, Namespaced: true},
	{GroupVersionKind: schema.GroupVersionKind{Version: "v1", Kind: "ResourceQuota"}, Namespaced: true},
	{GroupVersionKind: schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}, Namespaced: true},
	{GroupVersionKind: schema.GroupVersionKind{Version: "v1", Kind: "Service"}, Namespaced: true},
	{GroupVersionKind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Namespaced: true},
}

// Kinds returns every kind Build can return, in apply order.
func Kinds() []Kind {
	return append([]Kind(nil), kinds...)
}

// LookupKind returns the kind with the given name, such as "Deployment".
func LookupKind(name string) (Kind, bool) {
	for _, k := range kinds {
		if k.Kind == name {
			return k, true
		}
	}
	return Kind{}, false
}

// IsShared reports whether the object named by kind, namespace and name is
// one that all workloads of a namespace share: the Namespace, or the
// ResourceQuota or LimitRange named "estate".
func IsShared(kind, name string) bool {
	switch kind {
	case "Namespace":
		return true
	case "ResourceQuota", "LimitRange":
		return name == SharedName
	}
	return false
}

// Reference returns the status entry for obj on site. obj must have its
// TypeMeta set, as every object from Build has.
func Reference(obj client.Object, site string) estatev1.ProvisionedObject {
	return estatev1.ProvisionedObject{
		Kind:      obj.GetObjectKind().GroupVersionKind().Kind,
		Namespace: obj.GetNamespace(),
		Name:      obj.GetName(),
		Site:      site,
	}
}

// ToApply converts a desired object into the body of a server-side apply.
//
// Typed objects serialise some fields that were never set, such as
// metadata.creationTimestamp as null and an empty status. An apply claims
// ownership of every field it sends, so ToApply drops null fields and the
// status. Empty maps and lists stay, because some carry meaning: an empty
// NetworkPolicy rule matches all traffic. The result carries
// AnnotationDesiredHash, a hash of everything else.
func ToApply(obj client.Object) (*unstructured.Unstructured, error) {
	if obj.GetObjectKind().GroupVersionKind().Kind == "" {
		return nil, fmt.Errorf("object %s has no kind: set its TypeMeta", obj.GetName())
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
	}
	delete(content, "status")
	dropNulls(content)

	u := &unstructured.Unstructured{Object: content}
	annotations := u.GetAnnotations()
	delete(annotations, AnnotationDesiredHash)
	if len(annotations) == 0 {
		annotations = nil
	}
	u.SetAnnotations(annotations)

	hash, err := hashOf(u.Object)
	if err != nil {
		return nil, err
	}
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationDesiredHash] = hash
	u.SetAnnotations(annotations)
	return u, nil
}

// hashOf returns the first 16 hex digits of the SHA-256 of content's JSON.
// encoding/json sorts map keys, so equal content gives an equal hash.
func hashOf(content map[string]any) (string, error) {
	data, err := json.Marshal(content)
	if err != nil {
		return "", fmt.Errorf("hashing the desired object: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8]), nil
}

// dropNulls removes null values from maps, at every depth.
func dropNulls(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if child == nil {
				delete(v, k)
				continue
			}
			dropNulls(child)
		}
	case []any:
		for _, child := range v {
			dropNulls(child)
		}
	}
}

// Comparison is the relation of a live object on a site to the desired one.
type Comparison int

const (
	// InSync means the live object holds every desired field and value.
	InSync Comparison = iota
	// Outdated means the live object was applied from an earlier desired
	// state, because the workload or its namespace changed since.
	Outdated
	// Drifted means the live object was applied from the current desired
	// state and changed since, for example by hand on the site.
	Drifted
)

func (c Comparison) String() string {
	switch c {
	case InSync:
		return "InSync"
	case Outdated:
		return "Outdated"
	case Drifted:
		return "Drifted"
	}
	return fmt.Sprintf("Comparison(%d)", int(c))
}

// Compare returns how live relates to desired, where desired comes from
// ToApply. Only the fields desired sets are compared, so fields that the
// API server defaults or other controllers add never count as drift. Lists
// must have the same length and match item by item. Strings that parse as
// equal quantities match, because the API server rewrites quantities into
// canonical form. An empty map or list in desired also matches a missing
// field.
func Compare(desired, live *unstructured.Unstructured) Comparison {
	if contains(live.Object, desired.Object) {
		return InSync
	}
	want := desired.GetAnnotations()[AnnotationDesiredHash]
	if want != "" && live.GetAnnotations()[AnnotationDesiredHash] == want {
		return Drifted
	}
	return Outdated
}

// contains reports whether live holds every field and value of desired.
func contains(live, desired any) bool {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return live == nil && len(d) == 0
		}
		for k, dv := range d {
			lv, found := l[k]
			if !found {
				if isEmpty(dv) {
					continue
				}
				return false
			}
			if !contains(lv, dv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok {
			return live == nil && len(d) == 0
		}
		if len(l) != len(d) {
			return false
		}
		for i := range d {
			if !contains(l[i], d[i]) {
				return false
			}
		}
		return true
	case string:
		l, ok := live.(string)
		if !ok {
			return false
		}
		return l == d || equalQuantities(l, d)
	case int64, int32, int, float64:
		return equalNumbers(live, desired)
	default:
		return reflect.DeepEqual(live, desired)
	}
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

func equalQuantities(a, b string) bool {
	qa, err := resource.ParseQuantity(a)
	if err != nil {
		return false
	}
	qb, err := resource.ParseQuantity(b)
	if err != nil {
		return false
	}
	return qa.Cmp(qb) == 0
}

// equalNumbers compares JSON numbers, which decode as int64 or float64
// depending on the decoder.
func equalNumbers(a, b any) bool {
	fa, ok1 := toFloat(a)
	fb, ok2 := toFloat(b)
	return ok1 && ok2 && fa == fb
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case int32:
		return float64(v), true
	case int:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}
