package netverify

import (
	"path/filepath"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/ipam"
	ipamapi "github.com/ukhomeoffice/estate/internal/ipam/fromapi"
	"github.com/ukhomeoffice/estate/internal/manifest"
	"github.com/ukhomeoffice/estate/internal/placement"
	placementapi "github.com/ukhomeoffice/estate/internal/placement/fromapi"
	"github.com/ukhomeoffice/estate/internal/segmentation"
	segapi "github.com/ukhomeoffice/estate/internal/segmentation/fromapi"
)

// referenceEstate places, addresses and compiles the reference estate the
// way the operators do, without a server.
func referenceEstate(t testing.TB) (segmentation.Intent, *segmentation.Output) {
	t.Helper()
	objs, err := manifest.Load(filepath.Join("..", "..", "examples", "estate"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := manifest.Decode(objs)
	if err != nil {
		t.Fatal(err)
	}
	inputs := make([]placement.Workload, 0, len(set.Workloads))
	for i := range set.Workloads {
		in, err := placementapi.Workload(&set.Workloads[i])
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, in)
	}
	decisions := placement.PlaceAll(inputs, placementapi.Sites(set.Sites, set.Enclaves, ""), time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC))
	bySite := map[string]string{}
	for _, d := range decisions {
		bySite[d.Namespace+"/"+d.Name] = d.Site
	}
	for i := range set.Workloads {
		w := &set.Workloads[i]
		w.UID = types.UID("uid-" + w.Namespace + "-" + w.Name)
		w.Status.Placement = &estatev1.Placement{Site: bySite[w.Namespace+"/"+w.Name]}
	}

	network := &set.Networks[0]
	plan, problems, err := ipam.Allocate(ipamapi.Spec(network), ipamapi.Sites(set.Sites), ipamapi.Holders(set.Workloads), ipam.Plan{})
	if err != nil {
		t.Fatalf("allocating addresses: %v", err)
	}
	if len(problems) > 0 {
		t.Fatalf("allocation problems: %+v", problems)
	}
	intent := segapi.Intent(network, set.Sites, set.Workloads, set.Enclaves, plan)
	out, err := segmentation.Compile(intent)
	if err != nil {
		t.Fatalf("compiling: %v", err)
	}
	return intent, out
}

func TestReferenceEstateIsProved(t *testing.T) {
	intent, out := referenceEstate(t)
	if len(out.Rejected) != 0 {
		t.Errorf("the reference estate has rejected flows: %+v", out.Rejected)
	}
	res := Verify(intent, out.Rejected, out.NetworkPolicies, out.ClusterNetworkPolicies)
	if res.Checked == 0 || res.Allowed == 0 {
		t.Fatalf("the proof checked %d connections and allowed %d; it proved nothing", res.Checked, res.Allowed)
	}
	for _, d := range res.Differences {
		t.Errorf("%s -> %s %s/%d: intent %v, policy %v (%s)", d.From, d.To, d.Protocol, d.Port, d.Expected, d.Allowed, d.Reason)
	}
	for _, w := range res.Warnings {
		t.Errorf("policy warning: %s", w)
	}
}

func TestMissingPolicyIsFound(t *testing.T) {
	intent, out := referenceEstate(t)
	// Without the workloads' NetworkPolicies, the Baseline default deny
	// decides between pods, so declared flows are denied. Ingress from
	// outside the cluster is then open, because a ClusterNetworkPolicy
	// cannot select external sources for ingress.
	res := Verify(intent, out.Rejected, nil, out.ClusterNetworkPolicies)
	if res.Proved() {
		t.Fatal("the proof passed with every NetworkPolicy missing")
	}
	deniedFlows := 0
	for _, d := range res.Differences {
		if d.Expected && !d.Allowed {
			deniedFlows++
		}
	}
	if deniedFlows == 0 {
		t.Errorf("no declared flow was found denied among %d differences", len(res.Differences))
	}
}

func TestExtraAllowIsFound(t *testing.T) {
	intent, out := referenceEstate(t)
	// An allow-all policy in one namespace opens more than the intent.
	allowAll := networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "border-force", Name: "allow-all"},
		Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{}},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{}},
		},
	}
	res := Verify(intent, out.Rejected, append(out.NetworkPolicies, allowAll), out.ClusterNetworkPolicies)
	if res.Proved() {
		t.Fatal("the proof passed with an allow-all NetworkPolicy added")
	}
	for _, d := range res.Differences {
		if d.Expected || !d.Allowed {
			t.Errorf("unexpected difference with an extra allow: %+v", d)
		}
	}
}

func BenchmarkVerifyReferenceEstate(b *testing.B) {
	intent, out := referenceEstate(b)
	b.ResetTimer()
	var res Result
	for range b.N {
		res = Verify(intent, out.Rejected, out.NetworkPolicies, out.ClusterNetworkPolicies)
	}
	b.ReportMetric(float64(res.Checked), "connections/op")
}
