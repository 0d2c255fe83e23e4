package segmentation_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/ukhomeoffice/estate/internal/segmentation"
)

// estateConfig sizes a generated estate.
type estateConfig struct {
	workloads, flows int
	zones, sites     int // zones at most 15, sites at most 64
	// zoneFlowPerMille is the share of flows that target a zone, in tenths of a percent.
	zoneFlowPerMille int
	// conformingPercent is the share of flows generated to fit the zone
	// matrix. The others are random, so most of them are rejected.
	conformingPercent int
}

var (
	portPool  = []int32{80, 443, 1414, 5432, 8443, 9090}
	namePool  = []string{"http", "https", "mq", "db", "api", "metrics"}
	testSpace = []netip.Prefix{
		netip.MustParsePrefix("10.64.0.0/10"),
		netip.MustParsePrefix("51.224.0.0/16"),
		netip.MustParsePrefix("fd10::/16"),
	}
)

// zoneBlock4 returns the /20 of zone j at site i, inside 10.64.0.0/10.
func zoneBlock4(i, j int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(64 + i), byte(j * 16), 0}), 20)
}

// zoneBlock6 returns the /48 of zone j at site i, inside fd10::/16.
func zoneBlock6(i, j int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0x10, 0, byte(i), 0, byte(j)}), 48)
}

// workloadBlock4 returns the slot-th /28 of a /20.
func workloadBlock4(block netip.Prefix, slot int) netip.Prefix {
	b := block.Addr().As4()
	offset := slot * 16
	b[2] += byte(offset >> 8)
	b[3] = byte(offset)
	return netip.PrefixFrom(netip.AddrFrom4(b), 28)
}

// workloadBlock6 returns the slot-th /64 of a /48.
func workloadBlock6(block netip.Prefix, slot int) netip.Prefix {
	b := block.Addr().As16()
	b[6] = byte(slot >> 8)
	b[7] = byte(slot)
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

func pick[T any](rng *rand.Rand, list []T) T { return list[rng.IntN(len(list))] }

func randomProtocol(rng *rand.Rand) string {
	if rng.IntN(5) == 0 {
		return "UDP"
	}
	return "TCP"
}

// generateEstate returns a reproducible random intent with a mix of every
// case the compiler handles. It has unknown peers, zones and ports, named
// ports, enclave zones and sites, unplaced workloads and cross-site flows.
// Its zone matrix allows some flows and forbids others.
func generateEstate(seed uint64, cfg estateConfig) segmentation.Intent {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	in := segmentation.Intent{DepartmentSpaces: slices.Clone(testSpace)}
	if rng.IntN(5) != 0 {
		in.PSNRanges = []netip.Prefix{netip.MustParsePrefix("51.0.0.0/8")}
	}

	var zones []string
	for j := range cfg.zones {
		zones = append(zones, "z"+strconv.Itoa(j))
	}
	if rng.IntN(2) == 0 {
		zones = append(zones, "enclave")
	}
	for _, z := range zones {
		in.Zones = append(in.Zones, segmentation.Zone{Name: z, TrustLevel: "Medium"})
	}

	tiers := []segmentation.Tier{segmentation.TierPublicCloud, segmentation.TierPrivateCloud, segmentation.TierOnPremises}
	type block struct {
		site, zone int
		used       int
	}
	var blocks []*block
	for i := range cfg.sites {
		s := segmentation.Site{Name: "site-" + strconv.Itoa(i), Tier: tiers[i%len(tiers)], ZoneBlocks: map[string][]netip.Prefix{}}
		if i > 0 {
			s.Tier = pick(rng, tiers)
		}
		if s.Tier != segmentation.TierPublicCloud && rng.IntN(4) == 0 {
			s.Enclave = true
		}
		for j, z := range zones {
			if rng.IntN(10) == 0 {
				continue
			}
			s.ZoneBlocks[z] = []netip.Prefix{zoneBlock4(i, j), zoneBlock6(i, j)}
			blocks = append(blocks, &block{site: i, zone: j})
		}
		in.Sites = append(in.Sites, s)
	}

	namespaces := max(1, cfg.workloads/20)
	for n := range cfg.workloads {
		w := segmentation.Workload{
			Namespace: "ns-" + strconv.Itoa(rng.IntN(namespaces)),
			Name:      "wl-" + strconv.Itoa(n),
			Exposure:  pick(rng, []segmentation.Exposure{segmentation.ExposureInternal, segmentation.ExposureInternal, segmentation.ExposurePSN, segmentation.ExposureInternet, ""}),
		}
		b := pick(rng, blocks)
		w.Zone = zones[b.zone]
		switch {
		case rng.IntN(30) == 0:
			// Unplaced: no site and no addresses yet.
		case b.used >= 256:
			// The block is full; leave the workload unplaced.
		default:
			w.Site = in.Sites[b.site].Name
			w.Addresses = []netip.Prefix{workloadBlock4(zoneBlock4(b.site, b.zone), b.used)}
			if rng.IntN(2) == 0 {
				w.Addresses = append(w.Addresses, workloadBlock6(zoneBlock6(b.site, b.zone), b.used))
			}
			b.used++
		}
		if rng.IntN(40) == 0 {
			w.Zone = "undeclared"
			w.Site, w.Addresses = "", nil
		}
		for _, name := range namePool[:rng.IntN(4)] {
			w.Ports = append(w.Ports, segmentation.NamedPort{Name: name, Protocol: randomProtocol(rng), Port: pick(rng, portPool)})
		}
		in.Workloads = append(in.Workloads, w)
	}

	ends := append(slices.Clone(zones), segmentation.MatrixInternet, segmentation.MatrixPSN)
	for _, from := range ends {
		for _, to := range ends {
			external := func(z string) bool { return z == segmentation.MatrixInternet || z == segmentation.MatrixPSN }
			if external(from) && external(to) || rng.IntN(5) >= 2 {
				continue
			}
			for range 1 + rng.IntN(2) {
				rule := segmentation.ZoneRule{From: from, To: to}
				if rng.IntN(5) != 0 {
					for range 1 + rng.IntN(4) {
						rule.Ports = append(rule.Ports, segmentation.Port{Protocol: randomProtocol(rng), Port: pick(rng, portPool)})
					}
					if !external(to) && rng.IntN(6) == 0 {
						rule.Ports = append(rule.Ports, segmentation.Port{Name: pick(rng, namePool)})
					}
				}
				in.Matrix = append(in.Matrix, rule)
			}
		}
	}
	allowed := map[[2]string][]segmentation.Port{}
	for _, r := range in.Matrix {
		key := [2]string{r.From, r.To}
		if len(r.Ports) == 0 {
			allowed[key] = append(allowed[key], segmentation.Port{})
		}
		for _, p := range r.Ports {
			if p.Name == "" {
				allowed[key] = append(allowed[key], p)
			}
		}
	}
	for k := range cfg.flows {
		s := &in.Workloads[rng.IntN(len(in.Workloads))]
		f := segmentation.Flow{Name: "f" + strconv.Itoa(k)}
		if rng.IntN(100) < cfg.conformingPercent && conformingFlow(rng, &f, s, in.Workloads, zones, allowed, cfg.zoneFlowPerMille) {
			s.Flows = append(s.Flows, f)
			continue
		}
		var dst *segmentation.Workload
		switch r := rng.IntN(1000); {
		case r < 30:
			f.To.Workload = "ns-0/missing"
		case r < 700-cfg.zoneFlowPerMille:
			dst = &in.Workloads[rng.IntN(len(in.Workloads))]
			f.To.Workload = dst.Namespace + "/" + dst.Name
			if dst.Namespace == s.Namespace && rng.IntN(3) == 0 {
				f.To.Workload = dst.Name
			}
		case r < 700:
			switch rng.IntN(30) {
			case 0:
				f.To.Zone = "nowhere"
			case 1:
				f.To.Zone = segmentation.MatrixInternet
			default:
				f.To.Zone = pick(rng, zones)
			}
		case r < 800:
			f.To.External = segmentation.ExternalPSN
		default:
			f.To.External = segmentation.ExternalInternet
		}
		for range 1 + rng.IntN(3) {
			f.Ports = append(f.Ports, randomFlowPort(rng, f, dst))
		}
		s.Flows = append(s.Flows, f)
	}
	return in
}

// conformingFlow fills in a flow that the zone matrix allows, on one or two
// of the ports it allows, and reports whether it found one.
func conformingFlow(rng *rand.Rand, f *segmentation.Flow, s *segmentation.Workload, workloads []segmentation.Workload, zones []string, allowed map[[2]string][]segmentation.Port, zoneFlowPerMille int) bool {
	var to string
	switch r := rng.IntN(1000); {
	case r < zoneFlowPerMille:
		for range 5 {
			if z := pick(rng, zones); allowed[[2]string{s.Zone, z}] != nil {
				f.To.Zone, to = z, z
				break
			}
		}
	case r < 900:
		for range 10 {
			d := &workloads[rng.IntN(len(workloads))]
			if allowed[[2]string{s.Zone, d.Zone}] != nil {
				f.To.Workload, to = d.Namespace+"/"+d.Name, d.Zone
				break
			}
		}
	default:
		external, network := segmentation.ExternalPSN, segmentation.MatrixPSN
		if rng.IntN(2) == 0 {
			external, network = segmentation.ExternalInternet, segmentation.MatrixInternet
		}
		if allowed[[2]string{s.Zone, network}] != nil {
			f.To.External, to = external, network
		}
	}
	ports := allowed[[2]string{s.Zone, to}]
	if to == "" || len(ports) == 0 {
		*f = segmentation.Flow{Name: f.Name}
		return false
	}
	for range 1 + rng.IntN(2) {
		p := pick(rng, ports)
		if p.Port == 0 {
			// An every-port rule: any port fits.
			p = segmentation.Port{Protocol: randomProtocol(rng), Port: pick(rng, portPool)}
		}
		f.Ports = append(f.Ports, p)
	}
	return true
}

func randomFlowPort(rng *rand.Rand, f segmentation.Flow, dst *segmentation.Workload) segmentation.Port {
	switch {
	case dst != nil && len(dst.Ports) > 0 && rng.IntN(2) == 0:
		np := pick(rng, dst.Ports)
		p := segmentation.Port{Name: np.Name}
		switch rng.IntN(6) {
		case 0:
			p.Name = "unknown"
		case 1, 2:
			p.Protocol = np.Protocol
		case 3:
			p.Protocol = "TCP"
		}
		return p
	case f.To.Zone != "" && rng.IntN(5) == 0:
		return segmentation.Port{Name: pick(rng, namePool)}
	case f.To.External != "" && rng.IntN(30) == 0:
		return segmentation.Port{Name: "https"}
	}
	return segmentation.Port{Protocol: randomProtocol(rng), Port: pick(rng, portPool)}
}

// shuffleIntent returns a deep copy of the intent with every list in a random order.
func shuffleIntent(rng *rand.Rand, in segmentation.Intent) segmentation.Intent {
	out := in
	out.Zones = shuffled(rng, in.Zones)
	out.DepartmentSpaces = shuffled(rng, in.DepartmentSpaces)
	out.PSNRanges = shuffled(rng, in.PSNRanges)
	out.MetadataAddresses = shuffled(rng, in.MetadataAddresses)
	out.EnclaveZones = shuffled(rng, in.EnclaveZones)
	out.Matrix = shuffled(rng, in.Matrix)
	for i := range out.Matrix {
		out.Matrix[i].Ports = shuffled(rng, out.Matrix[i].Ports)
	}
	out.Sites = shuffled(rng, in.Sites)
	for i := range out.Sites {
		blocks := map[string][]netip.Prefix{}
		for z, list := range out.Sites[i].ZoneBlocks {
			blocks[z] = shuffled(rng, list)
		}
		out.Sites[i].ZoneBlocks = blocks
	}
	out.Workloads = shuffled(rng, in.Workloads)
	for i := range out.Workloads {
		w := &out.Workloads[i]
		w.Addresses = shuffled(rng, w.Addresses)
		w.Ports = shuffled(rng, w.Ports)
		w.Flows = shuffled(rng, w.Flows)
		for j := range w.Flows {
			w.Flows[j].Ports = shuffled(rng, w.Flows[j].Ports)
		}
	}
	return out
}

func shuffled[T any](rng *rand.Rand, list []T) []T {
	if list == nil {
		return nil
	}
	out := slices.Clone(list)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// duplicateRules returns a description of every rule that appears twice in
// one policy, group or ruleset, and of every repeated peer, port or network
// within one rule.
func duplicateRules(out *segmentation.Output) []string {
	var found []string
	report := func(format string, args ...any) { found = append(found, fmt.Sprintf(format, args...)) }

	for _, np := range out.NetworkPolicies {
		where := "NetworkPolicy " + np.Namespace + "/" + np.Name
		for i, r := range np.Spec.Ingress {
			for j := range i {
				if reflect.DeepEqual(np.Spec.Ingress[j].From, r.From) {
					report("%s: ingress rules %d and %d have the same peers", where, j, i)
				}
			}
			checkRepeats(report, fmt.Sprintf("%s ingress rule %d peers", where, i), r.From)
			checkRepeats(report, fmt.Sprintf("%s ingress rule %d ports", where, i), r.Ports)
		}
		for i, r := range np.Spec.Egress {
			for j := range i {
				if reflect.DeepEqual(np.Spec.Egress[j].To, r.To) {
					report("%s: egress rules %d and %d have the same peers", where, j, i)
				}
			}
			checkRepeats(report, fmt.Sprintf("%s egress rule %d peers", where, i), r.To)
			checkRepeats(report, fmt.Sprintf("%s egress rule %d ports", where, i), r.Ports)
		}
	}

	names := map[string]bool{}
	for _, p := range out.ClusterNetworkPolicies {
		where := "ClusterNetworkPolicy " + p.Name
		if names[p.Name] {
			report("%s appears twice", where)
		}
		names[p.Name] = true
		checkRepeats(report, where+" ingress rules", p.Spec.Ingress)
		checkRepeats(report, where+" egress rules", p.Spec.Egress)
		for i, r := range p.Spec.Egress {
			var networks []v1alpha2.CIDR
			for _, peer := range r.To {
				networks = append(networks, peer.Networks...)
			}
			checkRepeats(report, fmt.Sprintf("%s egress rule %d networks", where, i), networks)
			checkRepeats(report, fmt.Sprintf("%s egress rule %d protocols", where, i), r.Protocols)
		}
	}

	for site, groups := range out.SecurityGroups {
		for _, g := range groups {
			where := "security group " + g.Name + " at " + site
			for dir, rules := range map[string][]segmentation.SGRule{"ingress": g.Ingress, "egress": g.Egress} {
				type key struct {
					protocol     string
					from, to     int32
					group        string
					withAddreses bool
				}
				seen := map[key]bool{}
				for _, r := range rules {
					k := key{r.Protocol, r.FromPort, r.ToPort, r.SourceGroup, len(r.CIDRs) > 0}
					if seen[k] {
						report("%s: %s has two rules for %s %d-%d peer %q", where, dir, r.Protocol, r.FromPort, r.ToPort, r.SourceGroup)
					}
					seen[k] = true
					checkRepeats(report, where+" "+dir+" CIDRs", r.CIDRs)
				}
			}
		}
	}

	for site, rs := range out.Firewalls {
		seen := map[string]bool{}
		for _, r := range rs.Rules {
			r.Comment = ""
			k := r.String()
			if seen[k] {
				report("firewall of %s: rule %q appears twice", site, k)
			}
			seen[k] = true
			checkRepeats(report, "firewall of "+site+" rule ports", r.Ports)
			checkRepeats(report, "firewall of "+site+" rule sources", r.Source.Prefixes)
			checkRepeats(report, "firewall of "+site+" rule destinations", r.Destination.Prefixes)
		}
	}
	return found
}

func checkRepeats[T any](report func(string, ...any), where string, list []T) {
	for i := range list {
		for j := range i {
			if reflect.DeepEqual(list[i], list[j]) {
				report("%s: items %d and %d are equal", where, j, i)
			}
		}
	}
}

func findNetworkPolicy(t *testing.T, out *segmentation.Output, key string) networkingv1.NetworkPolicy {
	t.Helper()
	for _, np := range out.NetworkPolicies {
		if np.Namespace+"/"+np.Name == key {
			return np
		}
	}
	t.Fatalf("no NetworkPolicy for %s", key)
	return networkingv1.NetworkPolicy{}
}

func findClusterNetworkPolicy(t *testing.T, out *segmentation.Output, name string) v1alpha2.ClusterNetworkPolicy {
	t.Helper()
	for _, p := range out.ClusterNetworkPolicies {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no ClusterNetworkPolicy named %s", name)
	return v1alpha2.ClusterNetworkPolicy{}
}

func findSecurityGroup(t *testing.T, out *segmentation.Output, workload string) segmentation.SecurityGroup {
	t.Helper()
	for _, groups := range out.SecurityGroups {
		for _, g := range groups {
			if g.Workload == workload {
				return g
			}
		}
	}
	t.Fatalf("no security group for %s", workload)
	return segmentation.SecurityGroup{}
}

func findRejection(out *segmentation.Output, workload, flow string) (segmentation.Rejection, bool) {
	for _, r := range out.Rejected {
		if r.Workload == workload && r.Flow == flow {
			return r, true
		}
	}
	return segmentation.Rejection{}, false
}

func mustPrefixes(list ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(list))
	for i, s := range list {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func prefixStrings(list []netip.Prefix) string {
	parts := make([]string, len(list))
	for i, p := range list {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}
