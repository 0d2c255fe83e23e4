package segmentation_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ukhomeoffice/estate/internal/segmentation"
	"github.com/ukhomeoffice/estate/internal/segmentation/model"
)

func TestFirewalls(t *testing.T) {
	out, err := segmentation.Compile(fixtureIntent())
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	established := segmentation.Rule{ConnState: []string{"established", "related"}, Verdict: segmentation.Accept}
	addresses := func(list ...string) segmentation.Addresses {
		return segmentation.Addresses{Prefixes: mustPrefixes(list...)}
	}
	set := func(name string) segmentation.Addresses { return segmentation.Addresses{Set: name} }
	accept := func(src, dst segmentation.Addresses, port int32, comment string) segmentation.Rule {
		return segmentation.Rule{Family: segmentation.FamilyIPv4, Source: src, Destination: dst, Protocol: "tcp", Ports: []int32{port}, Verdict: segmentation.Accept, Comment: comment}
	}
	enclaveDrop := "the Tier 2 enclave has no route to the internet"

	tests := []struct {
		name string
		got  any
		want any
	}{
		{
			name: "only on-premises and private cloud sites get a firewall",
			got:  slices.Sorted(maps.Keys(out.Firewalls)),
			want: []string{"dc", "vault"},
		},
		{
			name: "boundary accepts flows that enter, leave or cross zones within the site",
			got:  out.Firewalls["dc"].Rules,
			want: []segmentation.Rule{
				established,
				accept(addresses("10.64.16.0/28"), addresses("10.65.16.0/20"), 9090, "app/casework/peers"),
				accept(addresses("10.64.16.0/28"), addresses("10.65.32.0/28"), 5432, "app/casework/records"),
				accept(addresses("10.65.16.0/28"), addresses("10.65.32.0/28"), 5432, "app/batch/records"),
				accept(addresses("10.65.32.0/28"), set("psn_v4"), 443, "data/records/share"),
				accept(set("psn_v4"), addresses("10.65.16.0/28"), 8443, "exposure PSN of app/batch"),
			},
		},
		{
			name: "enclave site drops the internet both ways before anything else",
			got:  out.Firewalls["vault"].Rules,
			want: []segmentation.Rule{
				{Family: segmentation.FamilyIPv4, Source: addresses("10.66.48.0/20"), Destination: set("internet_v4"), Verdict: segmentation.Drop, Comment: enclaveDrop},
				{Family: segmentation.FamilyIPv4, Source: set("internet_v4"), Destination: addresses("10.66.48.0/20"), Verdict: segmentation.Drop, Comment: enclaveDrop},
				established,
			},
		},
		{
			name: "ruleset defines only the sets its rules use",
			got:  out.Firewalls["dc"].Sets,
			want: []segmentation.AddressSet{{
				Name: "psn_v4", Family: segmentation.FamilyIPv4,
				Elements: mustPrefixes("51.0.0.0/9", "51.128.0.0/10", "51.192.0.0/11", "51.225.0.0/16", "51.226.0.0/15", "51.228.0.0/14", "51.232.0.0/13", "51.240.0.0/12"),
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got, prefixComparer); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestFirewallRender(t *testing.T) {
	out, err := segmentation.Compile(fixtureIntent())
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	want := `table inet estate
delete table inet estate
table inet estate {
	set psn_v4 {
		type ipv4_addr
		flags interval
		elements = { 51.0.0.0/9, 51.128.0.0/10, 51.192.0.0/11, 51.225.0.0/16, 51.226.0.0/15, 51.228.0.0/14, 51.232.0.0/13, 51.240.0.0/12 }
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		ip saddr 10.64.16.0/28 ip daddr 10.65.16.0/20 tcp dport 9090 accept comment "app/casework/peers"
		ip saddr 10.64.16.0/28 ip daddr 10.65.32.0/28 tcp dport 5432 accept comment "app/casework/records"
		ip saddr 10.65.16.0/28 ip daddr 10.65.32.0/28 tcp dport 5432 accept comment "app/batch/records"
		ip saddr 10.65.32.0/28 ip daddr @psn_v4 tcp dport 443 accept comment "data/records/share"
		ip saddr @psn_v4 ip daddr 10.65.16.0/28 tcp dport 8443 accept comment "exposure PSN of app/batch"
	}
}
`
	if diff := cmp.Diff(want, out.Firewalls["dc"].Render()); diff != "" {
		t.Errorf("Render of dc (-want +got):\n%s", diff)
	}
}

func TestRuleString(t *testing.T) {
	tests := []struct {
		name string
		rule segmentation.Rule
		want string
	}{
		{
			name: "several ports and addresses become anonymous sets",
			rule: segmentation.Rule{
				Family: segmentation.FamilyIPv6, Source: segmentation.Addresses{Prefixes: mustPrefixes("fd10::/64", "fd10:0:1::/64")},
				Destination: segmentation.Addresses{Set: "internet_v6"}, Protocol: "udp", Ports: []int32{53, 443}, Verdict: segmentation.Accept,
			},
			want: "ip6 saddr { fd10::/64, fd10:0:1::/64 } ip6 daddr @internet_v6 udp dport { 53, 443 } accept",
		},
		{
			name: "single address is written without its length",
			rule: segmentation.Rule{Family: segmentation.FamilyIPv4, Destination: segmentation.Addresses{Prefixes: mustPrefixes("10.0.0.1/32")}, Verdict: segmentation.Drop},
			want: "ip daddr 10.0.0.1 drop",
		},
		{
			name: "protocol without ports matches the layer 4 protocol",
			rule: segmentation.Rule{Family: segmentation.FamilyIPv4, Source: segmentation.Addresses{Prefixes: mustPrefixes("10.0.0.0/8")}, Protocol: "sctp", Verdict: segmentation.Accept},
			want: "ip saddr 10.0.0.0/8 meta l4proto sctp accept",
		},
		{
			name: "family without addresses matches the family",
			rule: segmentation.Rule{Family: segmentation.FamilyIPv6, Verdict: segmentation.Drop},
			want: "meta nfproto ipv6 drop",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rule.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFirewallRenderParsesBack(t *testing.T) {
	intents := map[string]segmentation.Intent{"fixture": fixtureIntent()}
	for seed := range uint64(5) {
		intents["generated estate "+string(rune('a'+seed))] = generateEstate(100+seed, estateConfig{workloads: 60, flows: 200, zones: 6, sites: 5, zoneFlowPerMille: 100, conformingPercent: 50})
	}
	for name, in := range intents {
		t.Run(name, func(t *testing.T) {
			out, err := segmentation.Compile(in)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			for site, rs := range out.Firewalls {
				text := rs.Render()
				parsed, err := model.ParseRuleset(text)
				if err != nil {
					t.Fatalf("ParseRuleset of %s: %v\n%s", site, err, text)
				}
				parsed.Site = rs.Site
				if diff := cmp.Diff(rs, parsed, prefixComparer); diff != "" {
					t.Errorf("ruleset of %s differs after Render and ParseRuleset (-compiled +parsed):\n%s", site, diff)
				}
				if !strings.Contains(text, "policy drop;") {
					t.Errorf("ruleset of %s has no drop policy", site)
				}
			}
		})
	}
}
