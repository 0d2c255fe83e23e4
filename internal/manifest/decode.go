package manifest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/api/operation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/features"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	kjson "sigs.k8s.io/json"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// Set is the typed, defaulted and validated objects of a set of manifests.
type Set struct {
	Namespaces []corev1.Namespace
	Sites      []estatev1.HostingSite
	Networks   []estatev1.Network
	Workloads  []estatev1.Workload
	Enclaves   []estatev1.Enclave
	// Objects is every object as loaded, not defaulted, in apply order:
	// Namespaces, then cluster-scoped estate kinds, then namespaced ones,
	// each group in input order. Leaving defaulting to the API server keeps
	// server-side apply from taking ownership of defaulted fields.
	Objects []Object
}

var namespaceGVK = corev1.SchemeGroupVersion.WithKind("Namespace")

// objectKey identifies an object in a cluster.
type objectKey struct {
	group, kind, namespace, name string
}

// Decode validates objects as the API server would on create and decodes
// them into typed objects.
//
// Each estate object is checked against its CRD's structural schema (types,
// enums, patterns, formats, bounds). Unknown fields are reported rather than
// pruned. Schema defaults are applied before the list-type invariants and the
// CEL rules (x-kubernetes-validations) are checked. metadata.name must be a
// DNS subdomain. Workloads must set metadata.namespace, and cluster-scoped
// kinds must not. As on the API server, status is ignored, and the CEL rules
// are skipped for an object whose schema errors would make them meaningless.
// Namespaces are checked for unknown fields and metadata only. Any other
// kind, and a second object with the same kind, namespace and name, is an
// error.
//
// Decode checks every object before it returns. The error, when not nil, is
// an ErrorList with one entry per problem, and the Set is nil.
func Decode(objs []Object) (*Set, error) {
	kinds, err := estateKinds()
	if err != nil {
		return nil, err
	}
	return decode(kinds, objs)
}

func decode(kinds *customKinds, objs []Object) (*Set, error) {
	set := &Set{}
	var errs ErrorList
	firstSource := map[objectKey]string{}
	var namespaces, clusterScoped, namespaced []Object

	for _, obj := range objs {
		if obj.Object == nil {
			errs = append(errs, &Error{Source: obj.Source, Line: obj.Line, Detail: "missing object: Object is nil; build Objects with Load"})
			continue
		}
		u := obj.Object
		gvk := u.GroupVersionKind()
		report := objectErrors{
			source:    obj.Source,
			line:      obj.Line,
			kind:      gvk.Kind,
			namespace: u.GetNamespace(),
			name:      u.GetName(),
			list:      &errs,
		}

		key := objectKey{group: gvk.Group, kind: gvk.Kind, namespace: u.GetNamespace(), name: u.GetName()}
		if first, seen := firstSource[key]; seen {
			report.addf("", "Duplicate value: the same %s is also declared in %s; declare each object once", gvk.Kind, first)
			continue
		}
		firstSource[key] = obj.Source

		custom := kinds.byGVK[gvk]
		switch {
		case gvk == namespaceGVK:
			ns, ok := decodeNamespace(u.Object, report)
			if ok {
				set.Namespaces = append(set.Namespaces, *ns)
				namespaces = append(namespaces, obj)
			}
		case custom != nil:
			if !decodeCustom(custom, u.Object, set, report) {
				continue
			}
			if custom.namespaced {
				namespaced = append(namespaced, obj)
			} else {
				clusterScoped = append(clusterScoped, obj)
			}
		case len(kinds.servedVersions[gvk.GroupKind()]) > 0:
			report.addf("apiVersion", "Unsupported value: %q: supported values: %s",
				u.GetAPIVersion(), quotedGroupVersions(gvk.Group, kinds.servedVersions[gvk.GroupKind()]))
		default:
			report.addf("kind", "Unsupported value: %q (apiVersion %q): supported kinds are %s",
				gvk.Kind, u.GetAPIVersion(), kinds.supported())
		}
	}

	if len(errs) > 0 {
		return nil, errs
	}
	set.Objects = append(append(namespaces, clusterScoped...), namespaced...)
	return set, nil
}

func quotedGroupVersions(group string, versions []string) string {
	quoted := make([]string, len(versions))
	for i, v := range versions {
		quoted[i] = strconv.Quote(schema.GroupVersion{Group: group, Version: v}.String())
	}
	return strings.Join(quoted, ", ")
}

// decodeCustom runs the API server's create path for a custom resource on a
// copy of content: strict decoding, defaulting, then validation. It appends
// the typed object to set and returns true when there are no errors.
func decodeCustom(kind *customKind, content map[string]any, set *Set, report objectErrors) bool {
	before := len(*report.list)

	obj, err := normalize(content)
	if err != nil {
		report.add("", "Invalid value: the object cannot be encoded as JSON: "+err.Error())
		return false
	}
	if !coerce(kind, obj, report) {
		return false
	}

	structuraldefaulting.Default(obj, kind.structural)
	if kind.dropsStatus {
		delete(obj, "status")
	}

	validateCustom(kind, obj, report)
	if len(*report.list) > before {
		return false
	}
	return appendTyped(kind.gvk.Kind, obj, set, report)
}

// normalize deep-copies content through JSON, so that validation never
// changes the caller's object and values of Go types that JSON cannot hold
// (such as int rather than int64) become the types the API server decodes.
func normalize(content map[string]any) (map[string]any, error) {
	data, err := json.Marshal(content)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// coerce does what the API server's decoder does to a custom resource before
// defaulting: it drops unknown fields and null values, and rewrites metadata
// as ObjectMeta. Unknown fields are reported, as with strict field
// validation. It returns false when metadata cannot be read at all.
func coerce(kind *customKind, obj map[string]any, report objectErrors) bool {
	objectMeta, foundMeta, unknownMeta, err := schemaobjectmeta.GetObjectMetaWithOptions(obj, schemaobjectmeta.ObjectMetaOptions{
		ReturnUnknownFieldPaths: true,
	})
	if err != nil {
		report.add("metadata", "Invalid value: "+err.Error())
		return false
	}
	for _, path := range unknownMeta {
		report.add(path, "Unknown field: ObjectMeta has no such field; remove it or correct its name")
	}

	unknown := structuralpruning.PruneWithOptions(obj, kind.structural, true, structuralschema.UnknownFieldPathOptions{
		TrackUnknownFieldPaths: true,
	})
	for _, path := range unknown {
		report.add(path, unknownFieldDetail(kind, path))
	}
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, kind.structural)

	coerceErr, unknownEmbedded := schemaobjectmeta.CoerceWithOptions(nil, obj, kind.structural, false, schemaobjectmeta.CoerceOptions{
		ReturnUnknownFieldPaths: true,
	})
	if coerceErr != nil {
		report.addField(field.ErrorList{coerceErr})
	}
	for _, path := range unknownEmbedded {
		report.add(path, "Unknown field: ObjectMeta has no such field; remove it or correct its name")
	}

	if foundMeta {
		if err := schemaobjectmeta.SetObjectMeta(obj, objectMeta); err != nil {
			report.add("metadata", "Invalid value: "+err.Error())
			return false
		}
	}
	return coerceErr == nil
}

func unknownFieldDetail(kind *customKind, path string) string {
	detail := fmt.Sprintf("Unknown field: the %s schema has no such field", kind.gvk.Kind)
	if suggestion := closestField(kind.structural, path); suggestion != "" {
		return fmt.Sprintf("%s; did you mean %q?", detail, suggestion)
	}
	return detail + "; remove it or correct its name"
}

// validateCustom runs the checks of the API server's create strategy for a
// custom resource, in the same order.
func validateCustom(kind *customKind, obj map[string]any, report objectErrors) {
	ctx := context.Background()

	objectMeta, _, err := schemaobjectmeta.GetObjectMeta(obj, false)
	if err != nil || objectMeta == nil {
		objectMeta = &metav1.ObjectMeta{}
	}
	var errs field.ErrorList
	errs = append(errs, validateMetadata(objectMeta, kind.gvk.Kind, kind.namespaced, metavalidation.NameIsDNSSubdomain)...)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, kind.validator)...)
	errs = append(errs, schemaobjectmeta.Validate(ctx, nil, obj, kind.structural, false)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, kind.structural, obj)...)
	report.addField(errs)

	if kind.cel == nil {
		return
	}
	if hasBlockingError(errs) {
		report.add("", "the x-kubernetes-validations rules were not checked, because the errors above make them meaningless; correct those errors and check again")
		return
	}
	celErrs, _ := kind.cel.Validate(ctx, nil, kind.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	report.addField(celErrs)
}

// hasBlockingError reports whether errs holds an error after which the API
// server does not run the CEL rules: a missing field, a wrong type, an
// unsupported enum value, or a value over its maximum length or item count.
func hasBlockingError(errs field.ErrorList) bool {
	for _, fe := range errs {
		switch fe.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong,
			field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// validateMetadata validates ObjectMeta as the API server does on create,
// and rewrites the namespace messages to explain the fix.
func validateMetadata(objectMeta *metav1.ObjectMeta, kind string, namespaced bool, nameFn metavalidation.ValidateNameFunc) field.ErrorList {
	errs := metavalidation.ValidateObjectMetaDeclaratively(context.Background(), operation.Create, objectMeta, nil,
		namespaced, nameFn, field.NewPath("metadata"), utilfeature.DefaultFeatureGate.Enabled(features.DeclarativeValidationBeta))
	for _, fe := range errs {
		if fe.Field != "metadata.namespace" {
			continue
		}
		switch fe.Type {
		case field.ErrorTypeRequired:
			fe.Detail = fmt.Sprintf("%s is namespaced; set metadata.namespace (no namespace is assumed, not even \"default\")", kind)
		case field.ErrorTypeForbidden:
			fe.Detail = fmt.Sprintf("%s is cluster-scoped; remove metadata.namespace", kind)
		}
	}
	return errs
}

// appendTyped converts a validated object to its Go type and appends it to set.
func appendTyped(kind string, obj map[string]any, set *Set, report objectErrors) bool {
	var err error
	switch kind {
	case "HostingSite":
		var site estatev1.HostingSite
		if err = runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &site); err == nil {
			set.Sites = append(set.Sites, site)
		}
	case "Network":
		var network estatev1.Network
		if err = runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &network); err == nil {
			set.Networks = append(set.Networks, network)
		}
	case "Workload":
		var workload estatev1.Workload
		if err = runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &workload); err == nil {
			set.Workloads = append(set.Workloads, workload)
		}
	case "Enclave":
		var enclave estatev1.Enclave
		if err = runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &enclave); err == nil {
			set.Enclaves = append(set.Enclaves, enclave)
		}
	default:
		// NOTE: a CRD added to crds/ without a case here is validated but
		// cannot be decoded, so it is reported rather than dropped.
		err = fmt.Errorf("the manifest package has no Go type for %s; add one to Set", kind)
	}
	if err != nil {
		report.add("", "Invalid value: the object passed validation but cannot be decoded: "+err.Error())
		return false
	}
	return true
}

// decodeNamespace strictly decodes a core v1 Namespace and validates its
// metadata.
// NOTE: the rest of the API server's Namespace validation (spec.finalizers)
// lives in k8s.io/kubernetes and is not run here.
func decodeNamespace(content map[string]any, report objectErrors) (*corev1.Namespace, bool) {
	before := len(*report.list)

	data, err := json.Marshal(content)
	if err != nil {
		report.add("", "Invalid value: the object cannot be encoded as JSON: "+err.Error())
		return nil, false
	}
	ns := &corev1.Namespace{}
	strictErrs, err := kjson.UnmarshalStrict(data, ns)
	if err != nil {
		report.add("", "Invalid value: "+err.Error())
		return nil, false
	}
	for _, strictErr := range strictErrs {
		var fieldErr kjson.FieldError
		if errors.As(strictErr, &fieldErr) {
			report.add(fieldErr.FieldPath(), "Unknown field: Namespace has no such field; remove it or correct its name")
		} else {
			report.add("", "Invalid value: "+strictErr.Error())
		}
	}

	report.addField(validateMetadata(&ns.ObjectMeta, "Namespace", false, metavalidation.ValidateNamespaceName))
	if len(*report.list) > before {
		return nil, false
	}
	ns.Status = corev1.NamespaceStatus{}
	return ns, true
}
