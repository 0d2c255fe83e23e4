package segmentation_test

import (
	"net/netip"
	"slices"
	"strconv"
	"testing"

	"go4.org/netipx"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/ukhomeoffice/estate/internal/segmentation"
	"github.com/ukhomeoffice/estate/internal/segmentation/model"
)

// misplacedEnclaveIntent is the fixture with enclave workloads where the
// enclave's site offers no protection: an enclave-zone workload on public
// cloud and another at an ordinary on-premises site, each declaring internet
// flows and an internet exposure that the zone matrix allows.
func misplacedEnclaveIntent() segmentation.Intent {
	in := fixtureIntent()
	in.Matrix = append(in.Matrix, segmentation.ZoneRule{From: "internet", To: "enclave"})
	in.Sites[0].ZoneBlocks["enclave"] = mustPrefixes("10.64.48.0/20", "fd10:0:3::/48")
	in.Sites[1].ZoneBlocks["enclave"] = mustPrefixes("10.65.48.0/20")
	for _, w := range []segmentation.Workload{
		{Namespace: "sec", Name: "cloud-mail", Zone: "enclave", Site: "aws", Addresses: mustPrefixes("10.64.48.0/28", "fd10:0:3::/64")},
		{Namespace: "sec", Name: "legacy-mail", Zone: "enclave", Site: "dc", Addresses: mustPrefixes("10.65.48.0/28")},
	} {
		w.Exposure = segmentation.ExposureInternet
		w.Ports = []segmentation.NamedPort{{Name: "smtp", Protocol: "TCP", Port: 25}}
		w.Flows = []segmentation.Flow{
			{Name: "relay", To: segmentation.Peer{External: segmentation.ExternalInternet}, Ports: []segmentation.Port{{Protocol: "TCP", Port: 25}}},
		}
		in.Workloads = append(in.Workloads, w)
	}
	return in
}

func TestEnclaveHasNoRouteToTheInternet(t *testing.T) {
	intents := map[string]segmentation.Intent{
		"fixture":                             fixtureIntent(),
		"enclave workloads outside the vault": misplacedEnclaveIntent(),
	}
	for seed := range uint64(8) {
		in := generateEstate(200+seed, estateConfig{workloads: 60, flows: 250, zones: 5, sites: 5, zoneFlowPerMille: 100, conformingPercent: 50})
		zone := "enclave"
		if !slices.ContainsFunc(in.Zones, func(z segmentation.Zone) bool { return z.Name == zone }) {
			zone = "z0"
			in.EnclaveZones = []string{zone}
		}
		in.Matrix = append(in.Matrix,
			segmentation.ZoneRule{From: zone, To: "internet"},
			segmentation.ZoneRule{From: "internet", To: zone})
		intents["generated estate "+strconv.Itoa(int(seed))] = in
	}

	for name, in := range intents {
		t.Run(name, func(t *testing.T) {
			out, err := segmentation.Compile(in)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			internet := netipxSet(t, out.Addresses.Internet)
			enclave := enclaveWorkloads(in)
			if len(enclave) == 0 {
				t.Fatal("the intent has no enclave workload, so the test would prove nothing")
			}
			checkEnclaveRejections(t, in, out, enclave)
			checkEnclaveClusterPolicies(t, in, out)
			checkEnclaveNetworkPolicies(t, out, enclave, internet)
			checkEnclaveSecurityGroups(t, out, enclave, internet)
			checkEnclaveFirewalls(t, out, enclave)
		})
	}
}

// enclaveWorkloads returns the workloads in an enclave zone or at a SECRET site.
func enclaveWorkloads(in segmentation.Intent) map[string]segmentation.Workload {
	zones := in.EnclaveZones
	if len(zones) == 0 {
		zones = []string{"enclave"}
	}
	secret := map[string]bool{}
	for _, s := range in.Sites {
		secret[s.Name] = s.Enclave
	}
	out := map[string]segmentation.Workload{}
	for _, w := range in.Workloads {
		if slices.Contains(zones, w.Zone) || secret[w.Site] {
			out[w.Namespace+"/"+w.Name] = w
		}
	}
	return out
}

func netipxSet(t *testing.T, prefixes []netip.Prefix) *netipx.IPSet {
	t.Helper()
	var b netipx.IPSetBuilder
	for _, p := range prefixes {
		b.AddPrefix(p)
	}
	s, err := b.IPSet()
	if err != nil {
		t.Fatalf("IPSet: %v", err)
	}
	return s
}

func checkEnclaveRejections(t *testing.T, in segmentation.Intent, out *segmentation.Output, enclave map[string]segmentation.Workload) {
	t.Helper()
	for key, w := range enclave {
		for _, f := range w.Flows {
			if f.To.External != segmentation.ExternalInternet {
				continue
			}
			if _, ok := findRejection(out, key, f.Name); !ok {
				t.Errorf("internet flow %s/%s of an enclave workload was not rejected", key, f.Name)
			}
		}
		if w.Exposure == segmentation.ExposureInternet && slices.ContainsFunc(in.Zones, func(z segmentation.Zone) bool { return z.Name == w.Zone }) {
			r, ok := findRejection(out, key, "")
			if !ok || r.Reason != segmentation.ReasonEnclaveToInternet {
				t.Errorf("internet exposure of enclave workload %s got rejection %+v, want %s", key, r, segmentation.ReasonEnclaveToInternet)
			}
		}
	}
}

func checkEnclaveClusterPolicies(t *testing.T, in segmentation.Intent, out *segmentation.Output) {
	t.Helper()
	zones := in.EnclaveZones
	if len(zones) == 0 {
		zones = []string{"enclave"}
	}
	p := findClusterNetworkPolicy(t, out, "estate-enclave-no-internet")
	for _, other := range out.ClusterNetworkPolicies {
		if other.Spec.Tier == v1alpha2.AdminTier && other.Name != p.Name && other.Name != "estate-block-metadata" && other.Spec.Priority <= p.Spec.Priority {
			t.Errorf("%s has priority %d, which does not come after the enclave policy's %d", other.Name, other.Spec.Priority, p.Spec.Priority)
		}
	}
	for _, zone := range zones {
		policy := findClusterNetworkPolicy(t, out, "estate-zone-"+zone)
		for _, r := range policy.Spec.Egress {
			if r.Name == "pass-to-internet" {
				t.Errorf("policy of enclave zone %s passes traffic to the internet: %+v", zone, r)
			}
		}
	}
}

// ipBlockOverlaps reports whether an ipBlock, minus its exceptions, shares
// any address with the set.
func ipBlockOverlaps(t *testing.T, block *networkingv1.IPBlock, set *netipx.IPSet) bool {
	t.Helper()
	var b netipx.IPSetBuilder
	b.AddPrefix(netip.MustParsePrefix(block.CIDR))
	for _, e := range block.Except {
		b.RemovePrefix(netip.MustParsePrefix(e))
	}
	s, err := b.IPSet()
	if err != nil {
		t.Fatalf("IPSet: %v", err)
	}
	return s.Overlaps(set)
}

func checkEnclaveNetworkPolicies(t *testing.T, out *segmentation.Output, enclave map[string]segmentation.Workload, internet *netipx.IPSet) {
	t.Helper()
	for _, np := range out.NetworkPolicies {
		key := np.Namespace + "/" + np.Name
		if _, ok := enclave[key]; !ok {
			continue
		}
		var peers []networkingv1.NetworkPolicyPeer
		for _, r := range np.Spec.Egress {
			peers = append(peers, r.To...)
		}
		for _, r := range np.Spec.Ingress {
			peers = append(peers, r.From...)
		}
		for _, peer := range peers {
			if peer.IPBlock != nil && ipBlockOverlaps(t, peer.IPBlock, internet) {
				t.Errorf("NetworkPolicy of enclave workload %s allows internet addresses in %+v", key, peer.IPBlock)
			}
		}
	}
}

func checkEnclaveSecurityGroups(t *testing.T, out *segmentation.Output, enclave map[string]segmentation.Workload, internet *netipx.IPSet) {
	t.Helper()
	for _, groups := range out.SecurityGroups {
		for _, g := range groups {
			if _, ok := enclave[g.Workload]; !ok {
				continue
			}
			for _, r := range append(g.Ingress, g.Egress...) {
				for _, p := range r.CIDRs {
					if internet.OverlapsPrefix(p) {
						t.Errorf("security group %s of enclave workload %s allows internet range %s", g.Name, g.Workload, p)
					}
				}
			}
		}
	}
}

// checkEnclaveFirewalls sends connections between every enclave address and
// internet addresses through every firewall, on every port any rule names.
func checkEnclaveFirewalls(t *testing.T, out *segmentation.Output, enclave map[string]segmentation.Workload) {
	t.Helper()
	var internetAddrs []netip.Addr
	for _, p := range out.Addresses.Internet {
		internetAddrs = append(internetAddrs, netipx.PrefixLastIP(p))
	}
	for site, rs := range out.Firewalls {
		fw, err := model.NewFirewall(rs)
		if err != nil {
			t.Fatalf("NewFirewall %s: %v", site, err)
		}
		ports := []uint16{25, 443}
		for _, r := range rs.Rules {
			for _, p := range r.Ports {
				ports = append(ports, uint16(p))
			}
		}
		slices.Sort(ports)
		ports = slices.Compact(ports)
		for key, w := range enclave {
			for _, a := range w.Addresses {
				for _, remote := range internetAddrs {
					if remote.Is4() != a.Addr().Is4() {
						continue
					}
					for _, port := range ports {
						for _, protocol := range []string{"tcp", "udp"} {
							outbound := model.Packet{Src: a.Addr(), Dst: remote, Protocol: protocol, SrcPort: 40000, DstPort: port}
							if v := fw.Decide(outbound, "new"); v != segmentation.Drop {
								t.Fatalf("firewall of %s accepts %s from enclave workload %s", site, outbound, key)
							}
							inbound := model.Packet{Src: remote, Dst: a.Addr(), Protocol: protocol, SrcPort: 40000, DstPort: port}
							if v := fw.Decide(inbound, "new"); v != segmentation.Drop {
								t.Fatalf("firewall of %s accepts %s to enclave workload %s", site, inbound, key)
							}
						}
					}
				}
			}
		}
	}
}
