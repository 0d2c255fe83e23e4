package provisioning

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

func TestToApplyDropsUnsetFields(t *testing.T) {
	objects, err := Build(workload("app", component("api", 1)), nil, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	u, err := ToApply(objects.Deployments[0])
	if err != nil {
		t.Fatalf("ToApply: %v", err)
	}
	if _, found := u.Object["status"]; found {
		t.Error("apply body contains status")
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(u.Object, "metadata", "creationTimestamp"); found {
		t.Error("apply body contains metadata.creationTimestamp")
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "template", "metadata", "creationTimestamp"); found {
		t.Error("apply body contains spec.template.metadata.creationTimestamp")
	}
	if got := u.GetAPIVersion() + " " + u.GetKind(); got != "apps/v1 Deployment" {
		t.Errorf("apply body is %s, want apps/v1 Deployment", got)
	}
	if u.GetAnnotations()[AnnotationDesiredHash] == "" {
		t.Errorf("apply body has annotations %v, want %s", u.GetAnnotations(), AnnotationDesiredHash)
	}
}

func TestToApplyKeepsEmptyPolicyRules(t *testing.T) {
	// An empty ingress rule allows all traffic and an empty pod selector
	// selects every pod, so both must reach the API server.
	policy := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "allow-all", Namespace: "border"},
		Spec:       networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{}}},
	}
	u, err := ToApply(policy)
	if err != nil {
		t.Fatalf("ToApply: %v", err)
	}
	ingress, found, err := unstructured.NestedSlice(u.Object, "spec", "ingress")
	if err != nil || !found {
		t.Fatalf("spec.ingress missing from the apply body: found=%v err=%v", found, err)
	}
	if diff := cmp.Diff([]any{map[string]any{}}, ingress); diff != "" {
		t.Errorf("spec.ingress differs (-want +got):\n%s", diff)
	}
	if _, found, _ := unstructured.NestedMap(u.Object, "spec", "podSelector"); !found {
		t.Error("spec.podSelector missing from the apply body")
	}
}

func TestToApplyHash(t *testing.T) {
	ns := func(labels map[string]string, annotations map[string]string) *corev1.Namespace {
		return &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: "border", Labels: labels, Annotations: annotations},
		}
	}
	hash := func(t *testing.T, obj *corev1.Namespace) string {
		t.Helper()
		u, err := ToApply(obj)
		if err != nil {
			t.Fatalf("ToApply: %v", err)
		}
		return u.GetAnnotations()[AnnotationDesiredHash]
	}

	base := hash(t, ns(map[string]string{"a": "1", "b": "2"}, nil))
	if again := hash(t, ns(map[string]string{"b": "2", "a": "1"}, nil)); again != base {
		t.Errorf("equal objects hash to %s and %s", base, again)
	}
	if changed := hash(t, ns(map[string]string{"a": "1", "b": "3"}, nil)); changed == base {
		t.Errorf("a changed label left the hash at %s", base)
	}
	if stale := hash(t, ns(map[string]string{"a": "1", "b": "2"}, map[string]string{AnnotationDesiredHash: "old"})); stale != base {
		t.Errorf("a stale hash annotation on the input changed the hash from %s to %s", base, stale)
	}

	u, err := ToApply(ns(nil, map[string]string{"note": "kept"}))
	if err != nil {
		t.Fatalf("ToApply: %v", err)
	}
	if u.GetAnnotations()["note"] != "kept" {
		t.Errorf("annotations = %v, want the caller's note kept", u.GetAnnotations())
	}
}

func TestToApplyNeedsKind(t *testing.T) {
	if _, err := ToApply(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "border"}}); err == nil {
		t.Error("ToApply without TypeMeta succeeded, want an error")
	}
}

func TestCompare(t *testing.T) {
	desiredQuota := func(memory string) *corev1.ResourceQuota {
		w := workload("app", component("api", 1))
		shared, err := BuildShared("border", []estatev1.Workload{*w})
		if err != nil {
			t.Fatalf("BuildShared: %v", err)
		}
		q := shared.ResourceQuota
		hard := q.Spec.Hard
		hard[corev1.ResourceRequestsMemory] = mustQuantity(t, memory)
		return q
	}
	desired := mustApply(t, desiredQuota("1Gi"))

	tests := map[string]struct {
		live func() *unstructured.Unstructured
		want Comparison
	}{
		"live copy of the desired object": {
			live: func() *unstructured.Unstructured { return desired.DeepCopy() },
			want: InSync,
		},
		"fields added by the server": {
			live: func() *unstructured.Unstructured {
				u := desired.DeepCopy()
				u.SetResourceVersion("7")
				u.SetLabels(map[string]string{LabelManagedBy: ManagedByValue, "added": "by-server"})
				_ = unstructured.SetNestedField(u.Object, "4", "spec", "hard", "pods")
				_ = unstructured.SetNestedMap(u.Object, map[string]any{"used": map[string]any{}}, "status")
				return u
			},
			want: InSync,
		},
		"quantity in another form": {
			live: func() *unstructured.Unstructured {
				u := desired.DeepCopy()
				_ = unstructured.SetNestedField(u.Object, "1024Mi", "spec", "hard", "requests.memory")
				return u
			},
			want: InSync,
		},
		"value changed by hand": {
			live: func() *unstructured.Unstructured {
				u := desired.DeepCopy()
				_ = unstructured.SetNestedField(u.Object, "64Gi", "spec", "hard", "requests.memory")
				return u
			},
			want: Drifted,
		},
		"label removed by hand": {
			live: func() *unstructured.Unstructured {
				u := desired.DeepCopy()
				u.SetLabels(nil)
				return u
			},
			want: Drifted,
		},
		"applied from an earlier desired state": {
			live: func() *unstructured.Unstructured { return mustApply(t, desiredQuota("512Mi")) },
			want: Outdated,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Compare(desired, tt.live()); got != tt.want {
				t.Errorf("Compare = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCompareLists(t *testing.T) {
	objects, err := Build(workload("app", component("api", 1)), nil, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	desired := mustApply(t, objects.Deployments[0])
	containers := []string{"spec", "template", "spec", "containers"}

	extra := desired.DeepCopy()
	list, _, _ := unstructured.NestedSlice(extra.Object, containers...)
	list = append(list, map[string]any{"name": "debug", "image": "busybox"})
	_ = unstructured.SetNestedSlice(extra.Object, list, containers...)
	if got := Compare(desired, extra); got != Drifted {
		t.Errorf("Compare with a container added by hand = %s, want Drifted", got)
	}

	defaulted := desired.DeepCopy()
	list, _, _ = unstructured.NestedSlice(defaulted.Object, containers...)
	list[0].(map[string]any)["terminationMessagePath"] = "/dev/termination-log"
	list[0].(map[string]any)["imagePullPolicy"] = "IfNotPresent"
	_ = unstructured.SetNestedSlice(defaulted.Object, list, containers...)
	if got := Compare(desired, defaulted); got != InSync {
		t.Errorf("Compare with defaulted container fields = %s, want InSync", got)
	}
}

func TestIsShared(t *testing.T) {
	tests := map[string]struct {
		kind, name string
		want       bool
	}{
		"namespace":             {kind: "Namespace", name: "border", want: true},
		"estate quota":          {kind: "ResourceQuota", name: "estate", want: true},
		"estate limit range":    {kind: "LimitRange", name: "estate", want: true},
		"other quota":           {kind: "ResourceQuota", name: "team", want: false},
		"deployment":            {kind: "Deployment", name: "estate", want: false},
		"service named estate":  {kind: "Service", name: "estate", want: false},
		"network policy":        {kind: "NetworkPolicy", name: "deny-all", want: false},
		"limit range of a team": {kind: "LimitRange", name: "team", want: false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := IsShared(tt.kind, tt.name); got != tt.want {
				t.Errorf("IsShared(%s, %s) = %v, want %v", tt.kind, tt.name, got, tt.want)
			}
		})
	}
}

func TestKindsCoverBuiltObjects(t *testing.T) {
	w := workload("app", component("api", 1))
	w.Spec.Ports = []estatev1.ServicePort{{Name: "https", Port: 443}}
	objects, err := Build(w, nil, []networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "p"}}})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	for _, obj := range objects.List() {
		gvk := obj.GetObjectKind().GroupVersionKind()
		kind, ok := LookupKind(gvk.Kind)
		if !ok {
			t.Errorf("LookupKind(%s) found nothing", gvk.Kind)
			continue
		}
		if kind.GroupVersionKind != gvk {
			t.Errorf("LookupKind(%s) = %v, want %v", gvk.Kind, kind.GroupVersionKind, gvk)
		}
		if kind.Namespaced != (obj.GetNamespace() != "") {
			t.Errorf("%s namespaced = %v, but the built object has namespace %q", gvk.Kind, kind.Namespaced, obj.GetNamespace())
		}
		ref := Reference(obj, "site-a")
		if ref.Kind != gvk.Kind || ref.Name != obj.GetName() || ref.Namespace != obj.GetNamespace() || ref.Site != "site-a" {
			t.Errorf("Reference(%s %s) = %+v", gvk.Kind, obj.GetName(), ref)
		}
	}
	if _, ok := LookupKind("ConfigMap"); ok {
		t.Error("LookupKind(ConfigMap) found a kind that Build never returns")
	}
}

func mustApply(t *testing.T, obj client.Object) *unstructured.Unstructured {
	t.Helper()
	u, err := ToApply(obj)
	if err != nil {
		t.Fatalf("ToApply: %v", err)
	}
	return u
}

func mustQuantity(t *testing.T, s string) resource.Quantity {
	t.Helper()
	q, err := resource.ParseQuantity(s)
	if err != nil {
		t.Fatalf("parsing quantity %q: %v", s, err)
	}
	return q
}
