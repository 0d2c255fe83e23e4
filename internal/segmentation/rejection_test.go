package segmentation_test

import (
	"strings"
	"testing"

	"github.com/ukhomeoffice/estate/internal/segmentation"
)

// withFlow returns the fixture with one more flow on web/portal, or on the
// workload named by source.
func withFlow(source string, f segmentation.Flow) segmentation.Intent {
	in := fixtureIntent()
	for i := range in.Workloads {
		w := &in.Workloads[i]
		if w.Namespace+"/"+w.Name == source {
			w.Flows = append(w.Flows, f)
		}
	}
	return in
}

func TestRejectedFlows(t *testing.T) {
	tcp := func(port int32) []segmentation.Port { return []segmentation.Port{{Protocol: "TCP", Port: port}} }
	tests := []struct {
		name     string
		in       segmentation.Intent
		workload string
		flow     string
		reason   segmentation.Reason
		// fix is a phrase the message must contain, naming the change that fixes the flow.
		fix string
	}{
		{
			name:     "flow the zone matrix forbids",
			in:       fixtureIntent(),
			workload: "data/records", flow: "leak",
			reason: segmentation.ReasonZoneMatrixForbids,
			fix:    `add a zoneMatrix rule from "data" to "internet" for TCP/443`,
		},
		{
			name:     "flow on a port the matrix does not list",
			in:       withFlow("web/portal", segmentation.Flow{Name: "admin", To: segmentation.Peer{Workload: "app/casework"}, Ports: tcp(9090)}),
			workload: "web/portal", flow: "admin",
			reason: segmentation.ReasonZoneMatrixForbids,
			fix:    `add a zoneMatrix rule from "frontend" to "application" for TCP/9090`,
		},
		{
			name:     "flow to a workload that does not exist",
			in:       withFlow("web/portal", segmentation.Flow{Name: "ghost", To: segmentation.Peer{Workload: "app/missing"}, Ports: tcp(443)}),
			workload: "web/portal", flow: "ghost",
			reason: segmentation.ReasonUnknownWorkload,
			fix:    "set to.workload",
		},
		{
			name:     "flow to a short workload name that does not exist in the source namespace",
			in:       withFlow("web/portal", segmentation.Flow{Name: "ghost", To: segmentation.Peer{Workload: "casework"}, Ports: tcp(443)}),
			workload: "web/portal", flow: "ghost",
			reason: segmentation.ReasonUnknownWorkload,
			fix:    "web/casework",
		},
		{
			name:     "flow to a zone the network does not declare",
			in:       withFlow("web/portal", segmentation.Flow{Name: "lost", To: segmentation.Peer{Zone: "dmz"}, Ports: tcp(443)}),
			workload: "web/portal", flow: "lost",
			reason: segmentation.ReasonUnknownZone,
			fix:    "declare the zone or correct to.zone",
		},
		{
			name:     "flow to the internet written as a zone",
			in:       withFlow("web/portal", segmentation.Flow{Name: "out", To: segmentation.Peer{Zone: "internet"}, Ports: tcp(443)}),
			workload: "web/portal", flow: "out",
			reason: segmentation.ReasonUnknownZone,
			fix:    "set to.external",
		},
		{
			name:     "named port the destination does not serve",
			in:       withFlow("web/portal", segmentation.Flow{Name: "grpc", To: segmentation.Peer{Workload: "app/casework"}, Ports: []segmentation.Port{{Name: "grpc"}}}),
			workload: "web/portal", flow: "grpc",
			reason: segmentation.ReasonUnknownPort,
			fix:    "declare the port in spec.ports of app/casework",
		},
		{
			name:     "named port over the wrong protocol",
			in:       withFlow("web/portal", segmentation.Flow{Name: "udp-api", To: segmentation.Peer{Workload: "app/casework"}, Ports: []segmentation.Port{{Protocol: "UDP", Name: "api"}}}),
			workload: "web/portal", flow: "udp-api",
			reason: segmentation.ReasonUnknownPort,
			fix:    "set the flow's protocol to TCP",
		},
		{
			name:     "named port no workload in the zone serves",
			in:       withFlow("web/portal", segmentation.Flow{Name: "zone-grpc", To: segmentation.Peer{Zone: "application"}, Ports: []segmentation.Port{{Name: "grpc"}}}),
			workload: "web/portal", flow: "zone-grpc",
			reason: segmentation.ReasonUnknownPort,
			fix:    `no workload in zone "application" serves a port named "grpc"`,
		},
		{
			name:     "named port on an external network",
			in:       withFlow("app/casework", segmentation.Flow{Name: "named-out", To: segmentation.Peer{External: segmentation.ExternalInternet}, Ports: []segmentation.Port{{Name: "https"}}}),
			workload: "app/casework", flow: "named-out",
			reason: segmentation.ReasonUnknownPort,
			fix:    "give the port number",
		},
		{
			name:     "enclave flow to the internet that the matrix allows",
			in:       fixtureIntent(),
			workload: "sec/knowledge", flow: "news",
			reason: segmentation.ReasonEnclaveToInternet,
			fix:    "cross-domain gateway",
		},
		{
			name: "flow to the PSN when the network declares no PSN range",
			in: func() segmentation.Intent {
				in := fixtureIntent()
				in.PSNRanges = nil
				return in
			}(),
			workload: "data/records", flow: "share",
			reason: segmentation.ReasonNoPSNRanges,
			fix:    "spec.psn.ranges",
		},
		{
			name: "internet exposure the matrix does not allow",
			in: func() segmentation.Intent {
				in := fixtureIntent()
				in.Workloads[3].Exposure = segmentation.ExposureInternet
				return in
			}(),
			workload: "data/records", flow: "",
			reason: segmentation.ReasonZoneMatrixForbids,
			fix:    `add a zoneMatrix rule from "internet" to "data", or set exposure to Internal`,
		},
		{
			name: "exposure on ports the workload does not serve",
			in: func() segmentation.Intent {
				in := fixtureIntent()
				in.Workloads[1].Exposure = segmentation.ExposurePSN
				in.Workloads[1].Ports = in.Workloads[1].Ports[1:]
				return in
			}(),
			workload: "app/casework", flow: "",
			reason: segmentation.ReasonZoneMatrixForbids,
			fix:    "only on TCP/8443, which the workload does not serve",
		},
		{
			name: "workload in an undeclared zone",
			in: func() segmentation.Intent {
				in := fixtureIntent()
				in.Workloads[0].Zone = "dmz"
				in.Workloads[0].Site = ""
				in.Workloads[0].Addresses = nil
				return in
			}(),
			workload: "web/portal", flow: "submit",
			reason: segmentation.ReasonUnknownZone,
			fix:    "declare the zone or move the workload to a declared zone",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := segmentation.Compile(tt.in)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			r, ok := findRejection(out, tt.workload, tt.flow)
			if !ok {
				t.Fatalf("no rejection for %s flow %q; rejections are %+v", tt.workload, tt.flow, out.Rejected)
			}
			if r.Reason != tt.reason {
				t.Errorf("reason = %s, want %s", r.Reason, tt.reason)
			}
			if !strings.Contains(r.Message, tt.fix) {
				t.Errorf("message %q does not contain %q", r.Message, tt.fix)
			}
			if tt.flow != "" && !strings.Contains(r.Message, tt.flow) {
				t.Errorf("message %q does not name the flow %q", r.Message, tt.flow)
			}
			if !strings.Contains(r.Message, tt.workload) {
				t.Errorf("message %q does not name the workload %s", r.Message, tt.workload)
			}
			assertNotCompiled(t, out, tt.workload, tt.flow)
		})
	}
}

// assertNotCompiled checks that no rule carries the rejected flow's name.
// Every compiled rule that is not a NetworkPolicy names its flows.
func assertNotCompiled(t *testing.T, out *segmentation.Output, workload, flow string) {
	t.Helper()
	id := workload + "/" + flow
	if flow == "" {
		id = "exposure Internet of " + workload
	}
	for site, rs := range out.Firewalls {
		for _, r := range rs.Rules {
			if strings.Contains(r.Comment, id) {
				t.Errorf("firewall of %s compiles the rejected %s: %s", site, id, r.String())
			}
		}
	}
	for _, groups := range out.SecurityGroups {
		for _, g := range groups {
			for _, r := range append(g.Ingress, g.Egress...) {
				if strings.Contains(r.Description, id) {
					t.Errorf("security group %s compiles the rejected %s", g.Name, id)
				}
			}
		}
	}
}

func TestRejectedFlowLeavesOnlyDNS(t *testing.T) {
	out, err := segmentation.Compile(fixtureIntent())
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	np := findNetworkPolicy(t, out, "data/records")
	for _, r := range np.Spec.Egress {
		for _, peer := range r.To {
			if peer.IPBlock != nil && peer.IPBlock.CIDR == "0.0.0.0/0" {
				t.Errorf("data/records may reach the internet although its flow \"leak\" was rejected: %+v", r)
			}
		}
	}
	if got := len(out.Rejected); got != 2 {
		t.Errorf("got %d rejections, want the fixture's 2 (data/records/leak and sec/knowledge/news): %+v", got, out.Rejected)
	}
}

func TestMalformedIntent(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*segmentation.Intent)
		want   string
	}{
		{"duplicate zone", func(in *segmentation.Intent) { in.Zones = append(in.Zones, in.Zones[0]) }, `"frontend" is declared twice`},
		{"zone named after an external network", func(in *segmentation.Intent) { in.Zones = append(in.Zones, segmentation.Zone{Name: "psn"}) }, `"psn" is reserved`},
		{"matrix rule to an undeclared zone", func(in *segmentation.Intent) {
			in.Matrix = append(in.Matrix, segmentation.ZoneRule{From: "frontend", To: "dmz"})
		}, `zoneMatrix[9].to "dmz" is not a declared zone`},
		{"matrix rule between external networks", func(in *segmentation.Intent) {
			in.Matrix = append(in.Matrix, segmentation.ZoneRule{From: "psn", To: "internet"})
		}, "both external networks"},
		{"named matrix port to an external network", func(in *segmentation.Intent) {
			in.Matrix = append(in.Matrix, segmentation.ZoneRule{From: "data", To: "psn", Ports: []segmentation.Port{{Name: "https"}}})
		}, `has no named ports`},
		{"port with both number and name", func(in *segmentation.Intent) {
			in.Workloads[0].Flows[0].Ports = []segmentation.Port{{Port: 443, Name: "https"}}
		}, "set exactly one"},
		{"port out of range", func(in *segmentation.Intent) {
			in.Workloads[1].Flows[0].Ports = []segmentation.Port{{Protocol: "TCP", Port: 70000}}
		}, "port 70000 is out of range"},
		{"unsupported protocol", func(in *segmentation.Intent) {
			in.Workloads[1].Flows[0].Ports = []segmentation.Port{{Protocol: "ICMP", Port: 1}}
		}, `protocol "ICMP" is not supported`},
		{"flow with two destinations", func(in *segmentation.Intent) {
			in.Workloads[1].Flows[0].To.Zone = "data"
		}, "exactly one of to.workload, to.zone and to.external"},
		{"flow without ports", func(in *segmentation.Intent) { in.Workloads[1].Flows[0].Ports = nil }, `flow "records" has no ports`},
		{"duplicate flow name", func(in *segmentation.Intent) {
			in.Workloads[1].Flows = append(in.Workloads[1].Flows, in.Workloads[1].Flows[0])
		}, `declares flow "records" twice`},
		{"duplicate workload", func(in *segmentation.Intent) { in.Workloads = append(in.Workloads, in.Workloads[0]) }, "workload web/portal is declared twice"},
		{"workload on an unknown site", func(in *segmentation.Intent) { in.Workloads[0].Site = "gcp" }, `placed on site "gcp"`},
		{"overlapping workload addresses", func(in *segmentation.Intent) {
			in.Workloads[1].Addresses = mustPrefixes("10.64.0.8/29")
		}, "overlapping addresses"},
		{"address in another zone's block", func(in *segmentation.Intent) {
			in.Workloads[1].Addresses = mustPrefixes("10.65.32.64/28")
		}, `lies in a block of zone "data"`},
		{"unknown exposure", func(in *segmentation.Intent) { in.Workloads[0].Exposure = "Everyone" }, `exposure "Everyone"`},
		{"unknown tier", func(in *segmentation.Intent) { in.Sites[0].Tier = "Cloud" }, `tier "Cloud"`},
		{"blocks for an undeclared zone", func(in *segmentation.Intent) {
			in.Sites[0].ZoneBlocks["dmz"] = mustPrefixes("10.64.64.0/20")
		}, `blocks for zone "dmz"`},
		{"unknown enclave zone", func(in *segmentation.Intent) { in.EnclaveZones = []string{"secret"} }, `enclaveZones: zone "secret" is not declared`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := fixtureIntent()
			tt.modify(&in)
			out, err := segmentation.Compile(in)
			if err == nil {
				t.Fatalf("Compile succeeded with %d policies, want an error containing %q", len(out.NetworkPolicies), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestCompileLeavesIntentUnchanged(t *testing.T) {
	in := fixtureIntent()
	in.Workloads[0].Flows[0].Ports = []segmentation.Port{{Protocol: "tcp", Name: "api"}}
	if _, err := segmentation.Compile(in); err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if got := in.Workloads[0].Flows[0].Ports[0].Protocol; got != "tcp" {
		t.Errorf("Compile changed the caller's port protocol to %q", got)
	}
}
