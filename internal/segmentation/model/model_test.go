package model_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ukhomeoffice/estate/internal/segmentation"
	"github.com/ukhomeoffice/estate/internal/segmentation/model"
)

var (
	clientAddr = netip.MustParseAddr("10.0.1.5")
	serverAddr = netip.MustParseAddr("10.0.2.5")
	otherAddr  = netip.MustParseAddr("10.0.3.5")
)

func prefixes(list ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(list))
	for i, s := range list {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func tcp(src, dst netip.Addr, port uint16) model.Packet {
	return model.Packet{Src: src, Dst: dst, Protocol: "tcp", SrcPort: 40000, DstPort: port}
}

var established = segmentation.Rule{ConnState: []string{"established", "related"}, Verdict: segmentation.Accept}

func acceptRule(src, dst string, protocol string, ports ...int32) segmentation.Rule {
	return segmentation.Rule{
		Family: segmentation.FamilyIPv4, Source: segmentation.Addresses{Prefixes: prefixes(src)}, Destination: segmentation.Addresses{Prefixes: prefixes(dst)},
		Protocol: protocol, Ports: ports, Verdict: segmentation.Accept,
	}
}

func TestFirewallDecide(t *testing.T) {
	tests := []struct {
		name   string
		rules  []segmentation.Rule
		sets   []segmentation.AddressSet
		packet model.Packet
		state  string
		want   segmentation.Verdict
	}{
		{
			name:   "policy drops a packet no rule matches",
			packet: tcp(clientAddr, serverAddr, 443), state: "new",
			want: segmentation.Drop,
		},
		{
			name:   "matching accept rule accepts",
			rules:  []segmentation.Rule{acceptRule("10.0.1.0/24", "10.0.2.0/24", "tcp", 443)},
			packet: tcp(clientAddr, serverAddr, 443), state: "new",
			want: segmentation.Accept,
		},
		{
			name: "first matching rule decides",
			rules: []segmentation.Rule{
				{Family: segmentation.FamilyIPv4, Destination: segmentation.Addresses{Prefixes: prefixes("10.0.2.0/24")}, Verdict: segmentation.Drop},
				acceptRule("10.0.1.0/24", "10.0.2.0/24", "tcp", 443),
			},
			packet: tcp(clientAddr, serverAddr, 443), state: "new",
			want: segmentation.Drop,
		},
		{
			name:   "other port does not match",
			rules:  []segmentation.Rule{acceptRule("10.0.1.0/24", "10.0.2.0/24", "tcp", 443, 8443)},
			packet: tcp(clientAddr, serverAddr, 80), state: "new",
			want: segmentation.Drop,
		},
		{
			name:   "other protocol does not match",
			rules:  []segmentation.Rule{acceptRule("10.0.1.0/24", "10.0.2.0/24", "udp", 443)},
			packet: tcp(clientAddr, serverAddr, 443), state: "new",
			want: segmentation.Drop,
		},
		{
			name:   "rule without protocol matches every protocol and port",
			rules:  []segmentation.Rule{acceptRule("10.0.1.0/24", "10.0.2.0/24", "")},
			packet: model.Packet{Src: clientAddr, Dst: serverAddr, Protocol: "sctp", DstPort: 9},
			state:  "new",
			want:   segmentation.Accept,
		},
		{
			name:   "IPv4 rule does not match an IPv6 packet",
			rules:  []segmentation.Rule{{Family: segmentation.FamilyIPv4, Verdict: segmentation.Accept}},
			packet: tcp(netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2"), 443), state: "new",
			want: segmentation.Drop,
		},
		{
			name: "named set matches its elements",
			sets: []segmentation.AddressSet{{Name: "internet_v4", Family: segmentation.FamilyIPv4, Elements: prefixes("8.0.0.0/8")}},
			rules: []segmentation.Rule{{
				Family: segmentation.FamilyIPv4, Source: segmentation.Addresses{Prefixes: prefixes("10.0.1.0/24")},
				Destination: segmentation.Addresses{Set: "internet_v4"}, Protocol: "tcp", Ports: []int32{443}, Verdict: segmentation.Accept,
			}},
			packet: tcp(clientAddr, netip.MustParseAddr("8.8.8.8"), 443), state: "new",
			want: segmentation.Accept,
		},
		{
			name:   "established rule does not match a new connection",
			rules:  []segmentation.Rule{established},
			packet: tcp(clientAddr, serverAddr, 443), state: "new",
			want: segmentation.Drop,
		},
		{
			name:   "established rule matches a tracked connection",
			rules:  []segmentation.Rule{established},
			packet: tcp(serverAddr, clientAddr, 40000), state: "established",
			want: segmentation.Accept,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw, err := model.NewFirewall(segmentation.Ruleset{Sets: tt.sets, Rules: tt.rules})
			if err != nil {
				t.Fatalf("NewFirewall: %v", err)
			}
			if got := fw.Decide(tt.packet, tt.state); got != tt.want {
				t.Errorf("Decide(%s, %s) = %s, want %s", tt.packet, tt.state, got, tt.want)
			}
		})
	}
}

func TestFirewallForwardIsStateful(t *testing.T) {
	ruleset := segmentation.Ruleset{Rules: []segmentation.Rule{established, acceptRule("10.0.1.0/24", "10.0.2.0/24", "tcp", 443)}}
	fw, err := model.NewFirewall(ruleset)
	if err != nil {
		t.Fatalf("NewFirewall: %v", err)
	}
	request := tcp(clientAddr, serverAddr, 443)
	steps := []struct {
		name   string
		packet model.Packet
		want   segmentation.Verdict
	}{
		{"reply before any request is dropped", request.Reply(), segmentation.Drop},
		{"request is accepted", request, segmentation.Accept},
		{"reply to the request is accepted", request.Reply(), segmentation.Accept},
		{"later packet of the request is accepted", request, segmentation.Accept},
		{"new connection from the server is dropped", tcp(serverAddr, clientAddr, 443), segmentation.Drop},
		{"request from a third address is dropped", tcp(otherAddr, serverAddr, 443), segmentation.Drop},
	}
	for _, step := range steps {
		if got := fw.Forward(step.packet); got != step.want {
			t.Errorf("%s: Forward(%s) = %s, want %s", step.name, step.packet, got, step.want)
		}
	}

	stateless, err := model.NewFirewall(segmentation.Ruleset{Rules: ruleset.Rules[1:]})
	if err != nil {
		t.Fatalf("NewFirewall: %v", err)
	}
	if got := stateless.Forward(request); got != segmentation.Accept {
		t.Errorf("request without an established rule: Forward = %s, want accept", got)
	}
	if got := stateless.Forward(request.Reply()); got != segmentation.Drop {
		t.Errorf("reply without an established rule: Forward = %s, want drop, because only that rule accepts tracked packets", got)
	}
}

func TestNewFirewallRejectsUndefinedSet(t *testing.T) {
	_, err := model.NewFirewall(segmentation.Ruleset{Rules: []segmentation.Rule{{
		Family: segmentation.FamilyIPv4, Destination: segmentation.Addresses{Set: "psn_v4"}, Verdict: segmentation.Accept,
	}}})
	if err == nil || !strings.Contains(err.Error(), "psn_v4") {
		t.Errorf("NewFirewall error = %v, want one naming the set psn_v4", err)
	}
}

func securityGroups(t *testing.T, groups ...segmentation.SecurityGroup) *model.SecurityGroups {
	t.Helper()
	s, err := model.NewSecurityGroups(groups, map[string][]netip.Prefix{
		"app/client": prefixes("10.0.1.0/24"),
		"app/server": prefixes("10.0.2.0/24"),
	})
	if err != nil {
		t.Fatalf("NewSecurityGroups: %v", err)
	}
	return s
}

func TestSecurityGroupsAllowsNew(t *testing.T) {
	httpsOut := segmentation.SGRule{Protocol: "tcp", FromPort: 443, ToPort: 443, SourceGroup: "server"}
	httpsIn := segmentation.SGRule{Protocol: "tcp", FromPort: 443, ToPort: 443, SourceGroup: "client"}
	client := func(egress ...segmentation.SGRule) segmentation.SecurityGroup {
		return segmentation.SecurityGroup{Name: "client", Workload: "app/client", Egress: egress}
	}
	server := func(ingress ...segmentation.SGRule) segmentation.SecurityGroup {
		return segmentation.SecurityGroup{Name: "server", Workload: "app/server", Ingress: ingress}
	}
	tests := []struct {
		name   string
		groups []segmentation.SecurityGroup
		packet model.Packet
		want   bool
	}{
		{"both groups allow", []segmentation.SecurityGroup{client(httpsOut), server(httpsIn)}, tcp(clientAddr, serverAddr, 443), true},
		{"destination group lacks ingress", []segmentation.SecurityGroup{client(httpsOut), server()}, tcp(clientAddr, serverAddr, 443), false},
		{"source group lacks egress", []segmentation.SecurityGroup{client(), server(httpsIn)}, tcp(clientAddr, serverAddr, 443), false},
		{"other port is denied", []segmentation.SecurityGroup{client(httpsOut), server(httpsIn)}, tcp(clientAddr, serverAddr, 8443), false},
		{
			name:   "port range includes its ends",
			groups: []segmentation.SecurityGroup{client(segmentation.SGRule{Protocol: "tcp", FromPort: 8000, ToPort: 8443, CIDRs: prefixes("10.0.2.0/24")}), server(segmentation.SGRule{Protocol: "-1", SourceGroup: "client"})},
			packet: tcp(clientAddr, serverAddr, 8443),
			want:   true,
		},
		{
			name:   "source group matches only its members",
			groups: []segmentation.SecurityGroup{client(), server(httpsIn)},
			packet: tcp(otherAddr, serverAddr, 443),
			want:   false,
		},
		{
			name:   "address outside every group is not filtered on its side",
			groups: []segmentation.SecurityGroup{server(segmentation.SGRule{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDRs: prefixes("10.0.3.0/24")})},
			packet: tcp(otherAddr, serverAddr, 443),
			want:   true,
		},
		{
			name:   "CIDR rule matches by address",
			groups: []segmentation.SecurityGroup{client(segmentation.SGRule{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDRs: prefixes("10.0.2.0/24")}), server(httpsIn)},
			packet: tcp(clientAddr, serverAddr, 443),
			want:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := securityGroups(t, tt.groups...).AllowsNew(tt.packet); got != tt.want {
				t.Errorf("AllowsNew(%s) = %v, want %v", tt.packet, got, tt.want)
			}
		})
	}
}

func TestSecurityGroupsSendIsStateful(t *testing.T) {
	s := securityGroups(t,
		segmentation.SecurityGroup{Name: "client", Workload: "app/client", Egress: []segmentation.SGRule{{Protocol: "tcp", FromPort: 443, ToPort: 443, SourceGroup: "server"}}},
		segmentation.SecurityGroup{Name: "server", Workload: "app/server", Ingress: []segmentation.SGRule{{Protocol: "tcp", FromPort: 443, ToPort: 443, SourceGroup: "client"}}},
	)
	request := tcp(clientAddr, serverAddr, 443)
	steps := []struct {
		name   string
		packet model.Packet
		want   bool
	}{
		{"reply before any request is denied", request.Reply(), false},
		{"request is allowed", request, true},
		{"reply is allowed although no rule lets it out of the server", request.Reply(), true},
		{"new connection from the server is denied", tcp(serverAddr, clientAddr, 443), false},
	}
	for _, step := range steps {
		if got := s.Send(step.packet); got != step.want {
			t.Errorf("%s: Send(%s) = %v, want %v", step.name, step.packet, got, step.want)
		}
	}
}

func TestNewSecurityGroupsRejectsUnknownGroup(t *testing.T) {
	_, err := model.NewSecurityGroups([]segmentation.SecurityGroup{{
		Name: "client", Workload: "app/client",
		Egress: []segmentation.SGRule{{Protocol: "tcp", FromPort: 443, ToPort: 443, SourceGroup: "missing"}},
	}}, nil)
	if err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("NewSecurityGroups error = %v, want one naming the group \"missing\"", err)
	}
}

func TestParseRuleset(t *testing.T) {
	valid := "table inet estate\ndelete table inet estate\ntable inet estate {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n%s\n\t}\n}\n"
	tests := []struct {
		name    string
		text    string
		wantErr string
	}{
		{"accept policy is not the format Render writes", strings.Replace(valid, "policy drop;", "policy accept;", 1), "policy drop"},
		{"unsupported expression", strings.Replace(valid, "%s", "iifname eth0 accept", 1), "unsupported expression"},
		{"rule without verdict", strings.Replace(valid, "%s", "ip saddr 10.0.0.0/8", 1), "no verdict"},
		{"invalid address", strings.Replace(valid, "%s", "ip saddr 10.0.0.300/8 accept", 1), "10.0.0.300"},
		{"missing table", "chain forward {\n}\n", "table inet estate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := model.ParseRuleset(tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRuleset error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}

	text := strings.Replace(valid, "%s", "ip saddr { 10.0.1.0/24, 10.0.9.9 } ip daddr 10.0.2.0/24 udp dport { 53, 5353 } accept comment \"dns \\\"quoted\\\"\"", 1)
	r, err := model.ParseRuleset(text)
	if err != nil {
		t.Fatalf("ParseRuleset: %v", err)
	}
	if len(r.Rules) != 1 {
		t.Fatalf("got %d rules, want 1", len(r.Rules))
	}
	rule := r.Rules[0]
	checks := []struct {
		name      string
		got, want string
	}{
		{"sources", rule.Source.Prefixes[0].String() + " " + rule.Source.Prefixes[1].String(), "10.0.1.0/24 10.0.9.9/32"},
		{"destination", rule.Destination.Prefixes[0].String(), "10.0.2.0/24"},
		{"protocol", rule.Protocol, "udp"},
		{"comment", rule.Comment, `dns "quoted"`},
		{"verdict", string(rule.Verdict), "accept"},
		{"rendered again", rule.String(), `ip saddr { 10.0.1.0/24, 10.0.9.9 } ip daddr 10.0.2.0/24 udp dport { 53, 5353 } accept comment "dns \"quoted\""`},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}
