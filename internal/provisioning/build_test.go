package provisioning

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// workload returns a valid workload in namespace "border" with the given
// components; tests change what they exercise.
func workload(name string, components ...estatev1.Component) *estatev1.Workload {
	return &estatev1.Workload{
		ObjectMeta: metav1.ObjectMeta{Namespace: "border", Name: name},
		Spec: estatev1.WorkloadSpec{
			Owner:              estatev1.Owner{BusinessArea: "border-force"},
			BusinessCapability: "Identify",
			Classification:     estatev1.Official,
			Resources:          estatev1.WorkloadResources{CPU: resource.MustParse("1"), Memory: resource.MustParse("1Gi")},
			Zone:               "application",
			Components:         components,
		},
	}
}

func component(name string, replicas int32) estatev1.Component {
	return estatev1.Component{Name: name, Image: "registry.example/" + name + ":1.0", Replicas: replicas}
}

func TestBuildDeploymentForOneComponent(t *testing.T) {
	w := workload("passport-check", component("api", 2))
	w.Spec.Ports = []estatev1.ServicePort{{Name: "https", Port: 8443}, {Name: "metrics", Protocol: "TCP", Port: 9090}}

	objects, err := Build(w, nil, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}

	podLabels := map[string]string{
		LabelWorkload:  "passport-check",
		LabelComponent: "api",
		LabelZone:      "application",
		LabelManagedBy: "estate",
	}
	want := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "passport-check-api", Namespace: "border", Labels: podLabels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{
				LabelWorkload:  "passport-check",
				LabelComponent: "api",
			}},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge:       ptr.To(intstr.FromInt32(0)),
					MaxUnavailable: ptr.To(intstr.FromInt32(1)),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "api",
					Image: "registry.example/api:1.0",
					Ports: []corev1.ContainerPort{
						{Name: "https", ContainerPort: 8443, Protocol: corev1.ProtocolTCP},
						{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP},
					},
					// 1 CPU and 1Gi over two replicas.
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
						Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
					},
					SecurityContext: &corev1.SecurityContext{
						AllowPrivilegeEscalation: ptr.To(false),
						SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
				}}},
			},
		},
	}
	if len(objects.Deployments) != 1 {
		t.Fatalf("built %d deployments, want 1", len(objects.Deployments))
	}
	if diff := cmp.Diff(want, objects.Deployments[0]); diff != "" {
		t.Errorf("deployment differs (-want +got):\n%s", diff)
	}
}

func TestBuildServiceExposesPortsByName(t *testing.T) {
	w := workload("passport-check", component("api", 1))
	w.Spec.Ports = []estatev1.ServicePort{{Name: "https", Port: 443}, {Name: "dns", Protocol: "UDP", Port: 53}}

	objects, err := Build(w, nil, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	want := &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "passport-check", Namespace: "border", Labels: map[string]string{
			LabelWorkload: "passport-check", LabelManagedBy: "estate",
		}},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: map[string]string{LabelWorkload: "passport-check"},
			Ports: []corev1.ServicePort{
				{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromString("https")},
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromString("dns")},
			},
		},
	}
	if diff := cmp.Diff(want, objects.Service); diff != "" {
		t.Errorf("service differs (-want +got):\n%s", diff)
	}
}

func TestBuildWithoutPortsHasNoService(t *testing.T) {
	objects, err := Build(workload("batch", component("worker", 1)), nil, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if objects.Service != nil {
		t.Errorf("service = %+v, want none for a workload without ports", objects.Service)
	}
	for _, obj := range objects.List() {
		if obj.GetObjectKind().GroupVersionKind().Kind == "Service" {
			t.Errorf("List contains a Service %s", obj.GetName())
		}
	}
}

func TestBuildSplitsResourcesAcrossReplicas(t *testing.T) {
	tests := map[string]struct {
		cpu, memory string
		components  []estatev1.Component
		wantCPU     string
		wantMemory  string
	}{
		"even split over one component": {
			cpu: "2", memory: "4Gi", components: []estatev1.Component{component("api", 4)},
			wantCPU: "500m", wantMemory: "1Gi",
		},
		"split over all components rounds down": {
			cpu: "1", memory: "1Gi", components: []estatev1.Component{component("api", 2), component("worker", 1)},
			wantCPU: "333m", wantMemory: "341Mi",
		},
		"decimal memory rounds down to whole mebibytes": {
			cpu: "1", memory: "1G", components: []estatev1.Component{component("api", 1)},
			wantCPU: "1", wantMemory: "953Mi",
		},
		"no replicas keeps the whole amount in the template": {
			cpu: "250m", memory: "64Mi", components: []estatev1.Component{component("api", 0)},
			wantCPU: "250m", wantMemory: "64Mi",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			w := workload("app", tt.components...)
			w.Spec.Resources = estatev1.WorkloadResources{CPU: resource.MustParse(tt.cpu), Memory: resource.MustParse(tt.memory)}
			objects, err := Build(w, nil, nil)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if len(objects.Deployments) != len(tt.components) {
				t.Fatalf("built %d deployments, want %d", len(objects.Deployments), len(tt.components))
			}
			for _, d := range objects.Deployments {
				c := d.Spec.Template.Spec.Containers[0]
				if got := c.Resources.Requests[corev1.ResourceCPU]; got.Cmp(resource.MustParse(tt.wantCPU)) != 0 {
					t.Errorf("%s requests cpu %s, want %s", d.Name, got.String(), tt.wantCPU)
				}
				if got := c.Resources.Requests[corev1.ResourceMemory]; got.Cmp(resource.MustParse(tt.wantMemory)) != 0 {
					t.Errorf("%s requests memory %s, want %s", d.Name, got.String(), tt.wantMemory)
				}
				if got := c.Resources.Limits[corev1.ResourceMemory]; got.Cmp(resource.MustParse(tt.wantMemory)) != 0 {
					t.Errorf("%s memory limit %s, want %s", d.Name, got.String(), tt.wantMemory)
				}
			}
			assertWithinQuota(t, objects)
		})
	}
}

// assertWithinQuota checks that the replicas together request no more than
// the namespace quota allows.
func assertWithinQuota(t *testing.T, objects *Objects) {
	t.Helper()
	var cpu, memory resource.Quantity
	for _, d := range objects.Deployments {
		for i := int32(0); i < *d.Spec.Replicas; i++ {
			requests := d.Spec.Template.Spec.Containers[0].Resources.Requests
			cpu.Add(requests[corev1.ResourceCPU])
			memory.Add(requests[corev1.ResourceMemory])
		}
	}
	hard := objects.Shared.ResourceQuota.Spec.Hard
	if limit := hard[corev1.ResourceRequestsCPU]; cpu.Cmp(limit) > 0 {
		t.Errorf("replicas request %s CPU, more than the quota %s", cpu.String(), limit.String())
	}
	if limit := hard[corev1.ResourceRequestsMemory]; memory.Cmp(limit) > 0 {
		t.Errorf("replicas request %s memory, more than the quota %s", memory.String(), limit.String())
	}
}

func TestBuildSharedAggregatesNamespace(t *testing.T) {
	peer := func(name string, c estatev1.Classification, zone, area, cpu, memory string) estatev1.Workload {
		w := workload(name, component("api", 1))
		w.Spec.Classification = c
		w.Spec.Zone = zone
		w.Spec.Owner.BusinessArea = area
		w.Spec.Resources = estatev1.WorkloadResources{CPU: resource.MustParse(cpu), Memory: resource.MustParse(memory)}
		return *w
	}
	tests := map[string]struct {
		peers              []estatev1.Workload
		wantClassification string
		wantZone           string
		wantArea           string
		wantCPU            string
		wantMemory         string
	}{
		"workload alone": {
			wantClassification: "OFFICIAL", wantZone: "application", wantArea: "border-force",
			wantCPU: "1", wantMemory: "1Gi",
		},
		"peer in the same zone and area": {
			peers:              []estatev1.Workload{peer("audit", estatev1.Official, "application", "border-force", "500m", "512Mi")},
			wantClassification: "OFFICIAL", wantZone: "application", wantArea: "border-force",
			wantCPU: "1500m", wantMemory: "1536Mi",
		},
		"higher classification and other zone": {
			peers:              []estatev1.Workload{peer("casework", estatev1.OfficialSensitive, "data", "border-force", "2", "2Gi")},
			wantClassification: "OFFICIAL-SENSITIVE", wantZone: "mixed", wantArea: "border-force",
			wantCPU: "3", wantMemory: "3Gi",
		},
		"several business areas": {
			peers: []estatev1.Workload{
				peer("a", estatev1.Official, "application", "hm-passport-office", "1", "1Gi"),
				peer("b", estatev1.Secret, "application", "border-force", "1", "1Gi"),
			},
			wantClassification: "SECRET", wantZone: "application", wantArea: "mixed",
			wantCPU: "3", wantMemory: "3Gi",
		},
		"peer with the workload's own name is ignored": {
			peers:              []estatev1.Workload{peer("app", estatev1.Secret, "data", "other", "8", "8Gi")},
			wantClassification: "OFFICIAL", wantZone: "application", wantArea: "border-force",
			wantCPU: "1", wantMemory: "1Gi",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			objects, err := Build(workload("app", component("api", 1)), tt.peers, nil)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			ns := objects.Shared.Namespace
			if ns.Name != "border" {
				t.Errorf("namespace name = %s, want border", ns.Name)
			}
			if got := ns.Labels[LabelClassification]; got != tt.wantClassification {
				t.Errorf("classification label = %q, want %q", got, tt.wantClassification)
			}
			if got := ns.Labels[LabelZone]; got != tt.wantZone {
				t.Errorf("zone label = %q, want %q", got, tt.wantZone)
			}
			if got := ns.Labels[LabelBusinessArea]; got != tt.wantArea {
				t.Errorf("business-area label = %q, want %q", got, tt.wantArea)
			}
			hard := objects.Shared.ResourceQuota.Spec.Hard
			if got := hard[corev1.ResourceRequestsCPU]; got.Cmp(resource.MustParse(tt.wantCPU)) != 0 {
				t.Errorf("quota requests.cpu = %s, want %s", got.String(), tt.wantCPU)
			}
			if got := hard[corev1.ResourceRequestsMemory]; got.Cmp(resource.MustParse(tt.wantMemory)) != 0 {
				t.Errorf("quota requests.memory = %s, want %s", got.String(), tt.wantMemory)
			}
			if got := hard[corev1.ResourceLimitsMemory]; got.Cmp(resource.MustParse(tt.wantMemory)) != 0 {
				t.Errorf("quota limits.memory = %s, want %s", got.String(), tt.wantMemory)
			}
		})
	}
}

func TestBuildSharedObjectsAreNamedEstate(t *testing.T) {
	objects, err := Build(workload("app", component("api", 1)), nil, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	shared := objects.Shared
	if shared.ResourceQuota.Name != SharedName || shared.ResourceQuota.Namespace != "border" {
		t.Errorf("quota = %s/%s, want border/%s", shared.ResourceQuota.Namespace, shared.ResourceQuota.Name, SharedName)
	}
	if shared.LimitRange.Name != SharedName || shared.LimitRange.Namespace != "border" {
		t.Errorf("limit range = %s/%s, want border/%s", shared.LimitRange.Namespace, shared.LimitRange.Name, SharedName)
	}
	wantLimits := []corev1.LimitRangeItem{{
		Type:           corev1.LimitTypeContainer,
		DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Default:        corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
	}}
	if diff := cmp.Diff(wantLimits, shared.LimitRange.Spec.Limits); diff != "" {
		t.Errorf("limit range items differ (-want +got):\n%s", diff)
	}
	for _, obj := range shared.List() {
		if obj.GetLabels()[LabelManagedBy] != ManagedByValue {
			t.Errorf("%s %s has labels %v, want %s=%s", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), obj.GetLabels(), LabelManagedBy, ManagedByValue)
		}
		if _, ok := obj.GetLabels()[LabelWorkload]; ok {
			t.Errorf("shared %s %s is labelled with one workload", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName())
		}
	}
}

func TestBuildNetworkPolicies(t *testing.T) {
	denyAll := networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-all", ResourceVersion: "42", UID: "abc", Labels: map[string]string{"team": "network"}},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
	}
	allowWeb := networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "allow-web", Namespace: "border"},
		Spec:       networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{}}},
	}
	objects, err := Build(workload("app", component("api", 1)), nil, []networkingv1.NetworkPolicy{denyAll, allowWeb})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	want := []*networkingv1.NetworkPolicy{
		{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: "allow-web", Namespace: "border", Labels: map[string]string{LabelWorkload: "app", LabelManagedBy: "estate"}},
			Spec:       allowWeb.Spec,
		},
		{
			TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: "deny-all", Namespace: "border", Labels: map[string]string{
				"team": "network", LabelWorkload: "app", LabelManagedBy: "estate",
			}},
			Spec: denyAll.Spec,
		},
	}
	if diff := cmp.Diff(want, objects.NetworkPolicies); diff != "" {
		t.Errorf("network policies differ (-want +got):\n%s", diff)
	}
	if denyAll.Namespace != "" {
		t.Errorf("Build changed the caller's policy namespace to %q", denyAll.Namespace)
	}
}

func TestListOrdersObjectsForApply(t *testing.T) {
	w := workload("app", component("worker", 1), component("api", 1))
	w.Spec.Ports = []estatev1.ServicePort{{Name: "https", Port: 443}}
	policies := []networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "deny-all"}}}

	objects, err := Build(w, nil, policies)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	var got []string
	for _, obj := range objects.List() {
		got = append(got, obj.GetObjectKind().GroupVersionKind().Kind+" "+obj.GetName())
	}
	want := []string{
		"Namespace border",
		"LimitRange estate",
		"ResourceQuota estate",
		"NetworkPolicy deny-all",
		"Service app",
		"Deployment app-api",
		"Deployment app-worker",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("apply order differs (-want +got):\n%s", diff)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	first := workload("app", component("api", 2), component("worker", 1), component("cron", 1))
	first.Spec.Ports = []estatev1.ServicePort{{Name: "https", Port: 443}}
	second := first.DeepCopy()
	second.Spec.Components = []estatev1.Component{component("worker", 1), component("cron", 1), component("api", 2)}
	policies := []networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, {ObjectMeta: metav1.ObjectMeta{Name: "a"}}}
	reversed := []networkingv1.NetworkPolicy{policies[1], policies[0]}

	a, err := Build(first, nil, policies)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	b, err := Build(second, nil, reversed)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if diff := cmp.Diff(a.List(), b.List()); diff != "" {
		t.Errorf("component or policy order changed the output (-first +second):\n%s", diff)
	}
}

func TestBuildRejectsInvalidInput(t *testing.T) {
	tests := map[string]struct {
		change   func(w *estatev1.Workload)
		peers    []estatev1.Workload
		policies []networkingv1.NetworkPolicy
		want     string
	}{
		"cpu too small for the replicas": {
			change: func(w *estatev1.Workload) { w.Spec.Resources.CPU = resource.MustParse("2m") },
			want:   "raise spec.resources.cpu to at least 3m",
		},
		"memory too small for the replicas": {
			change: func(w *estatev1.Workload) { w.Spec.Resources.Memory = resource.MustParse("2Mi") },
			want:   "raise spec.resources.memory to at least 3Mi",
		},
		"name that cannot name a service": {
			change: func(w *estatev1.Workload) { w.Name = "9lives" },
			want:   `workload name "9lives" cannot name its Service`,
		},
		"deployment name too long": {
			change: func(w *estatev1.Workload) { w.Name = strings.Repeat("a", 60) },
			want:   "shorten the workload or component name",
		},
		"workload without namespace": {
			change: func(w *estatev1.Workload) { w.Namespace = "" },
			want:   "set metadata.namespace",
		},
		"policy in another namespace": {
			policies: []networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "elsewhere"}}},
			want:     "compile it into namespace border",
		},
		"policy without a name": {
			policies: []networkingv1.NetworkPolicy{{}},
			want:     "has no name",
		},
		"policy name twice": {
			policies: []networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, {ObjectMeta: metav1.ObjectMeta{Name: "p"}}},
			want:     "network policy name p appears twice",
		},
		"peer in another namespace": {
			peers: []estatev1.Workload{{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "x"}}},
			want:  "workload other/x is not in namespace border",
		},
		"peer listed twice": {
			peers: []estatev1.Workload{*workload("x"), *workload("x")},
			want:  "workload border/x is listed twice",
		},
		"peer with an unknown classification": {
			peers: func() []estatev1.Workload {
				w := workload("x")
				w.Spec.Classification = "TOP-SECRET"
				return []estatev1.Workload{*w}
			}(),
			want: `classification "TOP-SECRET"`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			w := workload("app", component("api", 2), component("worker", 1))
			if tt.change != nil {
				tt.change(w)
			}
			_, err := Build(w, tt.peers, tt.policies)
			if err == nil {
				t.Fatalf("Build succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestBuildSharedNeedsWorkloads(t *testing.T) {
	if _, err := BuildShared("border", nil); err == nil {
		t.Error("BuildShared with no workloads succeeded, want an error")
	}
}
