package segmentation_test

import (
	"net/netip"
	"slices"
	"strconv"
	"testing"

	"github.com/ukhomeoffice/estate/internal/segmentation"
	"github.com/ukhomeoffice/estate/internal/segmentation/model"
)

// boundary is one enforcement point a connection crosses, and whether it
// lets the connection's first packet through.
type boundary struct {
	name    string
	allowed bool
}

// proofCounts counts the checks a proof made, by whether the intent allows them.
type proofCounts struct {
	allowed, denied, uncrossed int
}

// prover checks the compiled security groups and firewalls of one intent
// against the oracle.
type prover struct {
	t         *testing.T
	in        segmentation.Intent
	oracle    *oracle
	sites     map[string]segmentation.Site
	groups    *model.SecurityGroups
	firewalls map[string]*model.Firewall
	protocols []string
	ports     []int32
	counts    proofCounts
	failures  int
}

func newProver(t *testing.T, in segmentation.Intent) *prover {
	t.Helper()
	out, err := segmentation.Compile(in)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	p := &prover{t: t, in: in, oracle: newOracle(in), sites: map[string]segmentation.Site{}, firewalls: map[string]*model.Firewall{}, protocols: []string{"tcp", "udp"}}
	for _, s := range in.Sites {
		p.sites[s.Name] = s
	}

	var groups []segmentation.SecurityGroup
	for _, list := range out.SecurityGroups {
		groups = append(groups, list...)
	}
	p.groups, err = model.NewSecurityGroups(groups, out.Addresses.Workloads)
	if err != nil {
		t.Fatalf("NewSecurityGroups: %v", err)
	}
	// Evaluate the rendered text, which is what a site loads.
	for site, rs := range out.Firewalls {
		parsed, err := model.ParseRuleset(rs.Render())
		if err != nil {
			t.Fatalf("ParseRuleset of %s: %v", site, err)
		}
		if p.firewalls[site], err = model.NewFirewall(parsed); err != nil {
			t.Fatalf("NewFirewall of %s: %v", site, err)
		}
	}

	// Every port the intent mentions, plus ports it never mentions.
	ports := []int32{7, 53, 65535}
	for _, w := range in.Workloads {
		for _, np := range w.Ports {
			ports = append(ports, np.Port)
		}
		for _, f := range w.Flows {
			for _, fp := range f.Ports {
				ports = append(ports, fp.Port)
			}
		}
	}
	for _, r := range in.Matrix {
		for _, mp := range r.Ports {
			ports = append(ports, mp.Port)
		}
	}
	slices.Sort(ports)
	p.ports = slices.DeleteFunc(slices.Compact(ports), func(n int32) bool { return n == 0 })
	return p
}

func (p *prover) tier(site string) segmentation.Tier {
	s, ok := p.sites[site]
	if !ok {
		return ""
	}
	return s.Tier
}

func (p *prover) isFirewall(site string) bool {
	tier := p.tier(site)
	return tier == segmentation.TierOnPremises || tier == segmentation.TierPrivateCloud
}

// pairBoundaries returns the enforcement points a connection between two
// workloads crosses: each end's security group on public cloud, and the
// firewall of each on-premises or private cloud site it enters or leaves or
// whose zones it moves between.
func (p *prover) pairBoundaries(s, d *segmentation.Workload, packet model.Packet) []boundary {
	var out []boundary
	if p.tier(s.Site) == segmentation.TierPublicCloud {
		out = append(out, boundary{"egress of the security group of " + s.Namespace + "/" + s.Name, p.groups.AllowsEgress(packet)})
	}
	if p.tier(d.Site) == segmentation.TierPublicCloud {
		out = append(out, boundary{"ingress of the security group of " + d.Namespace + "/" + d.Name, p.groups.AllowsIngress(packet)})
	}
	sameZoneSameSite := s.Site == d.Site && s.Zone == d.Zone
	for _, site := range slices.Compact([]string{s.Site, d.Site}) {
		if p.isFirewall(site) && !sameZoneSameSite {
			out = append(out, boundary{"firewall of " + site, p.firewalls[site].Decide(packet, "new") == segmentation.Accept})
		}
	}
	return out
}

// externalBoundaries returns the enforcement points between a workload and
// an address outside the department.
func (p *prover) externalBoundaries(w *segmentation.Workload, packet model.Packet, outbound bool) []boundary {
	var out []boundary
	switch {
	case p.tier(w.Site) == segmentation.TierPublicCloud && outbound:
		out = append(out, boundary{"egress of the security group of " + w.Namespace + "/" + w.Name, p.groups.AllowsEgress(packet)})
	case p.tier(w.Site) == segmentation.TierPublicCloud:
		out = append(out, boundary{"ingress of the security group of " + w.Namespace + "/" + w.Name, p.groups.AllowsIngress(packet)})
	case p.isFirewall(w.Site):
		out = append(out, boundary{"firewall of " + w.Site, p.firewalls[w.Site].Decide(packet, "new") == segmentation.Accept})
	}
	return out
}

// check compares each boundary's verdict with the intent's.
func (p *prover) check(want bool, packet model.Packet, what string, boundaries []boundary) {
	if len(boundaries) == 0 {
		p.counts.uncrossed++
		return
	}
	if want {
		p.counts.allowed++
	} else {
		p.counts.denied++
	}
	for _, b := range boundaries {
		if b.allowed == want {
			continue
		}
		p.failures++
		if p.failures <= 20 {
			verdict := "denies"
			if b.allowed {
				verdict = "allows"
			}
			intent := "denies"
			if want {
				intent = "allows"
			}
			p.t.Errorf("%s %s %s (%s), but the intent %s it", b.name, verdict, packet, what, intent)
		}
	}
}

// externalAddresses are addresses outside the department's workloads:
// the internet, the PSN, department space inside the PSN, and metadata.
func (p *prover) externalAddresses() map[string][]netip.Addr {
	out := map[string][]netip.Addr{
		"internet": {netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("2a00:1450:4009::1")},
		"metadata": {netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")},
	}
	for _, r := range p.in.PSNRanges {
		candidate := r.Masked().Addr().Next()
		if !slices.ContainsFunc(p.in.DepartmentSpaces, func(d netip.Prefix) bool { return d.Contains(candidate) }) {
			out["psn"] = append(out["psn"], candidate)
		}
	}
	for _, d := range p.in.DepartmentSpaces {
		if slices.ContainsFunc(p.in.PSNRanges, func(r netip.Prefix) bool { return r.Contains(d.Addr()) }) {
			out["department space inside the PSN"] = append(out["department space inside the PSN"], d.Masked().Addr().Next())
		}
	}
	return out
}

// run checks every ordered pair of placed workloads, and every workload
// against each external address, on every protocol and port.
func (p *prover) run() proofCounts {
	var placed []*segmentation.Workload
	for i := range p.in.Workloads {
		w := &p.in.Workloads[i]
		if w.Site != "" && len(w.Addresses) > 0 {
			placed = append(placed, w)
		}
	}
	for _, s := range placed {
		for _, d := range placed {
			if s == d {
				continue
			}
			for _, v4 := range []bool{true, false} {
				src, ok1 := firstHost(s, v4)
				dst, ok2 := firstHost(d, v4)
				if !ok1 || !ok2 {
					continue
				}
				for _, protocol := range p.protocols {
					for _, port := range p.ports {
						packet := model.Packet{Src: src, Dst: dst, Protocol: protocol, SrcPort: 40000, DstPort: uint16(port)}
						want := p.oracle.allows(s, d, protocol, port)
						p.check(want, packet, s.Namespace+"/"+s.Name+" to "+d.Namespace+"/"+d.Name, p.pairBoundaries(s, d, packet))
					}
				}
			}
		}
	}

	for network, addrs := range p.externalAddresses() {
		for _, w := range placed {
			for _, remote := range addrs {
				local, ok := firstHost(w, remote.Is4())
				if !ok {
					continue
				}
				for _, protocol := range p.protocols {
					for _, port := range p.ports {
						outbound := model.Packet{Src: local, Dst: remote, Protocol: protocol, SrcPort: 40000, DstPort: uint16(port)}
						want := (network == "internet" || network == "psn") && p.oracle.allowsExternal(w, network, protocol, port)
						p.check(want, outbound, w.Namespace+"/"+w.Name+" to "+network, p.externalBoundaries(w, outbound, true))

						inbound := model.Packet{Src: remote, Dst: local, Protocol: protocol, SrcPort: 40000, DstPort: uint16(port)}
						want = (network == "internet" || network == "psn") && p.oracle.exposureAllows(w, network, protocol, port)
						p.check(want, inbound, network+" to "+w.Namespace+"/"+w.Name, p.externalBoundaries(w, inbound, false))
					}
				}
			}
		}
	}
	return p.counts
}

func TestProofReferenceEstate(t *testing.T) {
	declared := referenceIntent(t)
	withMatrix := referenceIntent(t)
	withMatrix.Matrix = exampleMatrix()
	withMatrix.PSNRanges = mustPrefixes("51.0.0.0/8")

	tests := []struct {
		name       string
		in         segmentation.Intent
		minAllowed int
	}{
		{"reference estate as declared", declared, 1},
		{"reference estate with the example matrix and PSN ranges", withMatrix, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts := newProver(t, tt.in).run()
			t.Logf("checked %d allowed and %d denied connections; %d crossed no security group or firewall", counts.allowed, counts.denied, counts.uncrossed)
			if counts.allowed < tt.minAllowed {
				t.Errorf("only %d allowed connections were checked, want at least %d", counts.allowed, tt.minAllowed)
			}
			if counts.denied == 0 {
				t.Error("no denied connection was checked")
			}
		})
	}
}

func TestProofGeneratedEstates(t *testing.T) {
	total := proofCounts{}
	for seed := range uint64(16) {
		cfg := estateConfig{workloads: 24 + int(seed%3)*8, flows: 120, zones: 3 + int(seed%4), sites: 3 + int(seed%3), zoneFlowPerMille: 150, conformingPercent: 50}
		in := generateEstate(500+seed, cfg)
		t.Run("seed "+strconv.Itoa(int(500+seed)), func(t *testing.T) {
			counts := newProver(t, in).run()
			total.allowed += counts.allowed
			total.denied += counts.denied
			total.uncrossed += counts.uncrossed
		})
	}
	t.Logf("checked %d allowed and %d denied connections; %d crossed no security group or firewall", total.allowed, total.denied, total.uncrossed)
	if total.allowed == 0 || total.denied == 0 {
		t.Errorf("checked %d allowed and %d denied connections, want both above zero", total.allowed, total.denied)
	}
}
