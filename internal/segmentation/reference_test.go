package segmentation_test

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/segmentation"
)

const referenceEstate = "../../examples/estate"

// placementRow matches a row of the reference estate's expected placement
// table: | `namespace/name` | CLASSIFICATION | `site` | reason |
var placementRow = regexp.MustCompile("^\\| `([a-z0-9-]+/[a-z0-9-]+)` \\| [A-Z-]+ \\| `([a-z0-9-]+)` \\|")

// referenceIntent builds the intent of the reference estate in
// examples/estate. The YAML gives the zones, matrix, address spaces, sites
// and workloads; the README's expected placement gives each workload's site.
// Zone blocks and workload addresses are made up here: each site gets a /16
// of 10.64.0.0/10, each zone a /20 of it, and each workload a /27 of its zone.
// When the Network declares an IPv6 space of /32 or shorter, each site also
// gets a /48 of it, each zone a /56 and each workload a /64.
func referenceIntent(t *testing.T) segmentation.Intent {
	t.Helper()
	var network *estatev1.Network
	var sites []estatev1.HostingSite
	var workloads []estatev1.Workload
	for _, file := range referenceFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("reading %s: %v", file, err)
		}
		for _, doc := range bytes.Split(data, []byte("\n---")) {
			var meta struct{ Kind string }
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			switch meta.Kind {
			case "Network":
				network = &estatev1.Network{}
				unmarshal(t, file, doc, network)
			case "HostingSite":
				var s estatev1.HostingSite
				unmarshal(t, file, doc, &s)
				sites = append(sites, s)
			case "Workload":
				var w estatev1.Workload
				unmarshal(t, file, doc, &w)
				workloads = append(workloads, w)
			}
		}
	}
	if network == nil || len(sites) == 0 || len(workloads) == 0 {
		t.Fatalf("reference estate has %v network, %d sites and %d workloads; want all three", network != nil, len(sites), len(workloads))
	}

	in := segmentation.Intent{}
	for _, z := range network.Spec.Zones {
		in.Zones = append(in.Zones, segmentation.Zone{Name: z.Name, TrustLevel: string(z.TrustLevel)})
	}
	for _, r := range network.Spec.ZoneMatrix {
		in.Matrix = append(in.Matrix, segmentation.ZoneRule{From: r.From, To: r.To, Ports: flowPorts(r.Ports)})
	}
	var space6 netip.Prefix
	for _, s := range network.Spec.AddressSpaces {
		p := netip.MustParsePrefix(s)
		in.DepartmentSpaces = append(in.DepartmentSpaces, p)
		if p.Addr().Is6() && p.Bits() <= 32 && !space6.IsValid() {
			space6 = p
		}
	}
	if network.Spec.PSN != nil {
		for _, s := range network.Spec.PSN.Ranges {
			in.PSNRanges = append(in.PSNRanges, netip.MustParsePrefix(s))
		}
	}

	slices.SortFunc(sites, func(a, b estatev1.HostingSite) int { return strings.Compare(a.Name, b.Name) })
	siteIndex := map[string]int{}
	for i, s := range sites {
		siteIndex[s.Name] = i
		blocks := map[string][]netip.Prefix{}
		for j, z := range network.Spec.Zones {
			blocks[z.Name] = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(64 + i), byte(16 * j), 0}), 20)}
			if space6.IsValid() {
				a := space6.Masked().Addr().As16()
				a[5], a[6] = byte(i), byte(j)
				blocks[z.Name] = append(blocks[z.Name], netip.PrefixFrom(netip.AddrFrom16(a), 56))
			}
		}
		in.Sites = append(in.Sites, segmentation.Site{
			Name: s.Name, Tier: segmentation.Tier(s.Spec.Tier), Enclave: s.Spec.Accreditation == estatev1.Secret, ZoneBlocks: blocks,
		})
	}

	placement := referencePlacement(t)
	used := map[netip.Prefix]int{}
	for _, w := range workloads {
		key := w.Namespace + "/" + w.Name
		sw := segmentation.Workload{
			Namespace: w.Namespace, Name: w.Name, Zone: w.Spec.Zone, Site: placement[key],
			Exposure: segmentation.Exposure(w.Spec.Exposure),
		}
		for _, p := range w.Spec.Ports {
			sw.Ports = append(sw.Ports, segmentation.NamedPort{Name: p.Name, Protocol: p.Protocol, Port: p.Port})
		}
		for _, f := range w.Spec.Flows {
			sw.Flows = append(sw.Flows, segmentation.Flow{
				Name:  f.Name,
				To:    segmentation.Peer{Workload: f.To.Workload, Zone: f.To.Zone, External: segmentation.ExternalNetwork(f.To.External)},
				Ports: flowPorts(f.Ports),
			})
		}
		if i, ok := siteIndex[sw.Site]; ok {
			block := in.Sites[i].ZoneBlocks[sw.Zone][0]
			slot := used[block]
			used[block]++
			a := block.Addr().As4()
			a[3] = byte(32 * slot)
			a[2] += byte(32 * slot >> 8)
			sw.Addresses = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4(a), 27)}
			if blocks := in.Sites[i].ZoneBlocks[sw.Zone]; len(blocks) > 1 {
				a6 := blocks[1].Addr().As16()
				a6[7] = byte(slot)
				sw.Addresses = append(sw.Addresses, netip.PrefixFrom(netip.AddrFrom16(a6), 64))
			}
		}
		in.Workloads = append(in.Workloads, sw)
	}
	return in
}

func referenceFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.yaml", "sites/*.yaml", "workloads/*.yaml"} {
		matches, err := filepath.Glob(filepath.Join(referenceEstate, pattern))
		if err != nil {
			t.Fatalf("listing %s: %v", pattern, err)
		}
		files = append(files, matches...)
	}
	return files
}

func unmarshal(t *testing.T, file string, doc []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func flowPorts(ports []estatev1.FlowPort) []segmentation.Port {
	var out []segmentation.Port
	for _, p := range ports {
		out = append(out, segmentation.Port{Protocol: p.Protocol, Port: p.Port, Name: p.Name})
	}
	return out
}

// referencePlacement reads each workload's site from the README's expected placement table.
func referencePlacement(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(referenceEstate, "README.md"))
	if err != nil {
		t.Fatalf("reading the reference estate README: %v", err)
	}
	placement := map[string]string{}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if m := placementRow.FindSubmatch(line); m != nil {
			placement[string(m[1])] = string(m[2])
		}
	}
	if len(placement) == 0 {
		t.Fatal("the reference estate README has no expected placement table")
	}
	return placement
}

// exampleMatrix is a zone matrix for the reference estate, written for these
// tests from the zone descriptions in network.yaml. It allows most declared
// flows and leaves some out, such as outbound mail to the internet on port 25,
// so that the proof covers rejected flows too.
func exampleMatrix() []segmentation.ZoneRule {
	tcp := func(ports ...int32) []segmentation.Port {
		var out []segmentation.Port
		for _, p := range ports {
			out = append(out, segmentation.Port{Protocol: "TCP", Port: p})
		}
		return out
	}
	return []segmentation.ZoneRule{
		{From: "internet", To: "frontend", Ports: tcp(443)},
		{From: "psn", To: "psn-edge", Ports: tcp(443)},
		{From: "psn", To: "data", Ports: tcp(443)},
		{From: "psn", To: "restricted", Ports: tcp(443, 1414)},
		{From: "psn", To: "application", Ports: tcp(443)},
		{From: "frontend", To: "data", Ports: tcp(443)},
		{From: "frontend", To: "management", Ports: tcp(443)},
		{From: "frontend", To: "internet", Ports: tcp(443)},
		{From: "frontend", To: "psn", Ports: tcp(25)},
		{From: "application", To: "port-devices", Ports: tcp(443, 8883)},
		{From: "application", To: "data", Ports: tcp(443)},
		{From: "application", To: "psn-edge", Ports: tcp(443)},
		{From: "application", To: "management", Ports: tcp(443)},
		{From: "application", To: "psn", Ports: append(tcp(443, 5061), segmentation.Port{Protocol: "UDP", Port: 16384})},
		{From: "application", To: "internet", Ports: tcp(443)},
		{From: "data", To: "restricted", Ports: tcp(443, 1414)},
		{From: "data", To: "management", Ports: tcp(443)},
		{From: "data", To: "psn", Ports: tcp(443)},
		{From: "psn-edge", To: "data", Ports: tcp(443)},
		{From: "psn-edge", To: "application", Ports: tcp(443)},
		{From: "restricted", To: "restricted", Ports: tcp(443, 1414)},
		{From: "restricted", To: "data", Ports: tcp(443)},
		{From: "restricted", To: "application", Ports: tcp(443)},
		{From: "restricted", To: "psn", Ports: tcp(443)},
		{From: "enclave", To: "enclave", Ports: tcp(443)},
	}
}
