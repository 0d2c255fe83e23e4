package network

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

const eventually = 60 * time.Second

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func poll(t *testing.T, what string, check func(ctx context.Context) (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, eventually, true, func(ctx context.Context) (bool, error) {
		ok, err := check(ctx)
		last = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("never reached: %s (last error: %v)", what, last)
	}
}

func testSite(name string) *estatev1.HostingSite {
	return &estatev1.HostingSite{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: estatev1.HostingSiteSpec{
			Tier: estatev1.TierPrivateCloud, Provider: "crown-hosting", Region: "corsham", Jurisdiction: "GB",
			Accreditation: estatev1.OfficialSensitive, CostWeight: 50,
			Capacity: estatev1.SiteCapacity{CPU: resource.MustParse("1000"), Memory: resource.MustParse("10Ti"), Workloads: 500},
		},
	}
}

func workload(ns, name, zone string, flows ...estatev1.Flow) *estatev1.Workload {
	return &estatev1.Workload{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: estatev1.WorkloadSpec{
			Owner: estatev1.Owner{BusinessArea: "border-force"}, BusinessCapability: "Identify",
			Classification: estatev1.Official,
			Resources:      estatev1.WorkloadResources{CPU: resource.MustParse("100m"), Memory: resource.MustParse("128Mi")},
			Zone:           zone,
			Ports:          []estatev1.ServicePort{{Name: "https", Protocol: "TCP", Port: 8443}},
			Flows:          flows,
		},
	}
}

func tcp(port int32) []estatev1.FlowPort { return []estatev1.FlowPort{{Protocol: "TCP", Port: port}} }

// TestNetworkEndToEnd runs one Network through allocation, compilation,
// policy application, rejection, release and concurrency, because the
// operator reconciles the whole estate as one object.
func TestNetworkEndToEnd(t *testing.T) {
	ctx := context.Background()
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}})
	create(t, testSite("crown"))
	create(t, &estatev1.Network{
		ObjectMeta: metav1.ObjectMeta{Name: "home-office"},
		Spec: estatev1.NetworkSpec{
			AddressSpaces: []string{"10.64.0.0/16"},
			PSN:           &estatev1.PSN{Ranges: []string{"51.0.0.0/8"}},
			Zones: []estatev1.Zone{
				{Name: "frontend", TrustLevel: estatev1.TrustMedium},
				{Name: "data", TrustLevel: estatev1.TrustHigh},
			},
			ZoneMatrix: []estatev1.ZoneRule{{From: "frontend", To: "data", Ports: tcp(8443)}},
			Allocation: estatev1.AllocationPolicy{SitePrefixLength: 18, ZonePrefixLength: 22, WorkloadPrefixLength: 28},
		},
	})

	web := workload("apps", "web", "frontend", estatev1.Flow{Name: "records", To: estatev1.FlowPeer{Workload: "db"}, Ports: []estatev1.FlowPort{{Protocol: "TCP", Name: "https"}}})
	db := workload("apps", "db", "data", estatev1.Flow{Name: "back-to-web", To: estatev1.FlowPeer{Workload: "web"}, Ports: tcp(8443)})
	create(t, web)
	create(t, db)

	t.Run("allowed flow is compiled and applied", func(t *testing.T) {
		poll(t, "web NetworkReady=True", func(ctx context.Context) (bool, error) {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(web), web); err != nil {
				return false, err
			}
			return meta.IsStatusConditionTrue(web.Status.Conditions, estatev1.ConditionNetworkReady), nil
		})
		if web.Status.Network == nil || len(web.Status.Network.Addresses) != 1 {
			t.Fatalf("web network status = %+v, want one address block", web.Status.Network)
		}
		block := netip.MustParsePrefix(web.Status.Network.Addresses[0])
		if block.Bits() != 28 || !netip.MustParsePrefix("10.64.0.0/16").Contains(block.Addr()) {
			t.Errorf("web block %s is not a /28 inside 10.64.0.0/16", block)
		}
		np := &networkingv1.NetworkPolicy{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "web"}, np); err != nil {
			t.Fatalf("web NetworkPolicy not applied: %v", err)
		}
		if len(np.Spec.PolicyTypes) != 2 {
			t.Errorf("web NetworkPolicy policyTypes = %v, want Ingress and Egress", np.Spec.PolicyTypes)
		}
		cnps := &v1alpha2.ClusterNetworkPolicyList{}
		if err := k8s.List(ctx, cnps); err != nil || len(cnps.Items) == 0 {
			t.Errorf("no ClusterNetworkPolicy applied (err %v)", err)
		}
	})

	t.Run("forbidden flow is rejected with a reason", func(t *testing.T) {
		poll(t, "db NetworkReady=False with FlowsRejected", func(ctx context.Context) (bool, error) {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(db), db); err != nil {
				return false, err
			}
			c := meta.FindStatusCondition(db.Status.Conditions, estatev1.ConditionNetworkReady)
			return c != nil && c.Reason == estatev1.ReasonFlowsRejected, nil
		})
		if db.Status.Network == nil || len(db.Status.Network.RejectedFlows) != 1 {
			t.Fatalf("db rejected flows = %+v, want one", db.Status.Network)
		}
		if got := db.Status.Network.RejectedFlows[0]; got.Flow != "back-to-web" || got.Reason != "ZoneMatrixForbids" {
			t.Errorf("rejected flow = %+v, want back-to-web with ZoneMatrixForbids", got)
		}
	})

	t.Run("concurrent workloads never share a block", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				create(t, workload("apps", fmt.Sprintf("batch-%02d", i), "data"))
			}()
		}
		wg.Wait()
		var n estatev1.Network
		poll(t, "32 workload blocks in the plan", func(ctx context.Context) (bool, error) {
			if err := k8s.Get(ctx, client.ObjectKey{Name: "home-office"}, &n); err != nil {
				return false, err
			}
			return len(n.Status.Workloads) == 32, nil
		})
		seen := map[string]string{}
		var blocks []netip.Prefix
		for _, wb := range n.Status.Workloads {
			for _, c := range wb.CIDRs {
				if other, dup := seen[c]; dup {
					t.Errorf("block %s held by both %s and %s", c, other, wb.Workload)
				}
				seen[c] = wb.Workload
				blocks = append(blocks, netip.MustParsePrefix(c))
			}
		}
		for i := range blocks {
			for j := i + 1; j < len(blocks); j++ {
				if blocks[i].Overlaps(blocks[j]) {
					t.Errorf("blocks %s and %s overlap", blocks[i], blocks[j])
				}
			}
		}
	})

	t.Run("deleting a workload releases its block and policy", func(t *testing.T) {
		victim := &estatev1.Workload{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "batch-00"}}
		if err := k8s.Delete(ctx, victim); err != nil {
			t.Fatal(err)
		}
		poll(t, "batch-00 released", func(ctx context.Context) (bool, error) {
			var n estatev1.Network
			if err := k8s.Get(ctx, client.ObjectKey{Name: "home-office"}, &n); err != nil {
				return false, err
			}
			for _, wb := range n.Status.Workloads {
				if wb.Workload == "apps/batch-00" {
					return false, nil
				}
			}
			err := k8s.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "batch-00"}, &networkingv1.NetworkPolicy{})
			return apierrors.IsNotFound(err), nil
		})
	})

	t.Run("invalid address space names the field and the fix", func(t *testing.T) {
		var n estatev1.Network
		if err := k8s.Get(ctx, client.ObjectKey{Name: "home-office"}, &n); err != nil {
			t.Fatal(err)
		}
		before := n.Status.DeepCopy()
		n.Spec.SiteBlocks = []estatev1.SiteBlock{{Site: "crown", CIDRs: []string{"10.99.0.0/18"}}}
		if err := k8s.Update(ctx, &n); err != nil {
			t.Fatal(err)
		}
		poll(t, "Ready=False with InvalidNetwork", func(ctx context.Context) (bool, error) {
			if err := k8s.Get(ctx, client.ObjectKey{Name: "home-office"}, &n); err != nil {
				return false, err
			}
			c := meta.FindStatusCondition(n.Status.Conditions, estatev1.ConditionReady)
			return c != nil && c.Reason == estatev1.ReasonInvalidNetwork, nil
		})
		c := meta.FindStatusCondition(n.Status.Conditions, estatev1.ConditionReady)
		if !strings.Contains(c.Message, "spec.siteBlocks[0]") {
			t.Errorf("message %q does not name spec.siteBlocks[0]", c.Message)
		}
		if len(n.Status.Workloads) != len(before.Workloads) {
			t.Errorf("an invalid spec changed the held blocks from %d to %d", len(before.Workloads), len(n.Status.Workloads))
		}
	})
}
