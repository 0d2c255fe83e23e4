package enclave

import (
	"math/big"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/reachability"
)

// testEnclave returns an enclave with two tenants, one with a quota over two
// namespaces, and a gateway with flows from two zones.
func testEnclave() *estatev1.Enclave {
	return &estatev1.Enclave{
		ObjectMeta: metav1.ObjectMeta{Name: "tier2", Generation: 3},
		Spec: estatev1.EnclaveSpec{
			Sites: []string{"crown-b", "crown-a"},
			Tenants: []estatev1.Tenant{
				{
					Department: "national-crime-agency",
					Namespaces: []string{"nca-cases"},
					Members:    []string{"nca-analysts"},
				},
				{
					Department: "home-office",
					Namespaces: []string{"ho-data", "ho-apps"},
					Members:    []string{"ho-developers", "HO Ops:Admins"},
					Quota:      &estatev1.TenantQuota{CPU: resource.MustParse("3"), Memory: resource.MustParse("8Gi")},
				},
			},
			CrossDomainGateway: estatev1.CrossDomainGateway{
				Name: "cds",
				AllowedFlows: []estatev1.GatewayFlow{
					{FromZone: "official", Ports: []estatev1.FlowPort{{Protocol: "TCP", Port: 443}, {Protocol: "UDP", Port: 514}}},
					{FromZone: "partner", Ports: []estatev1.FlowPort{{Port: 8443}}},
					{FromZone: "official", Ports: []estatev1.FlowPort{{Protocol: "TCP", Port: 443}}},
				},
			},
			Controls: estatev1.EnclaveControls{NoInternetEgress: true, EncryptionAtRest: true, AuditLogging: true, TenantIsolation: true},
		},
	}
}

func mustBuild(t *testing.T, e *estatev1.Enclave) *Objects {
	t.Helper()
	objects, err := Build(e)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return objects
}

func TestInternetPrefixes(t *testing.T) {
	prefixes, err := InternetPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	contains := func(addr netip.Addr) bool {
		for _, p := range prefixes {
			if p.Contains(addr) {
				return true
			}
		}
		return false
	}

	internet := map[string]string{
		"public IPv4 resolver":             "8.8.8.8",
		"address below 10.0.0.0/8":         "9.255.255.255",
		"address above 10.0.0.0/8":         "11.0.0.0",
		"address above 172.16.0.0/12":      "172.32.0.0",
		"address below 172.16.0.0/12":      "172.15.255.255",
		"address above 192.168.0.0/16":     "192.169.0.0",
		"carrier-grade NAT":                "100.64.0.1",
		"address above 169.254.0.0/16":     "169.255.0.0",
		"public IPv6 resolver":             "2001:4860:4860::8888",
		"address below unique local range": "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"IPv6 unspecified address":         "::",
		"address above IPv6 loopback":      "::2",
	}
	for sentence, address := range internet {
		t.Run(sentence+" is internet", func(t *testing.T) {
			if !contains(netip.MustParseAddr(address)) {
				t.Errorf("%s not covered by the internet prefixes", address)
			}
		})
	}

	for _, excluded := range NotInternet {
		first := excluded.Masked().Addr()
		last := lastAddress(excluded)
		t.Run(excluded.String()+" is not internet", func(t *testing.T) {
			if contains(first) {
				t.Errorf("first address %s of %s is covered by the internet prefixes", first, excluded)
			}
			if contains(last) {
				t.Errorf("last address %s of %s is covered by the internet prefixes", last, excluded)
			}
		})
	}

	t.Run("prefixes cover exactly the IPv4 internet", func(t *testing.T) {
		covered := new(big.Int)
		for _, p := range prefixes {
			if p.Addr().Is4() {
				covered.Add(covered, new(big.Int).Lsh(big.NewInt(1), uint(32-p.Bits())))
			}
		}
		expected := new(big.Int).Lsh(big.NewInt(1), 32)
		for _, p := range NotInternet {
			if p.Addr().Is4() {
				expected.Sub(expected, new(big.Int).Lsh(big.NewInt(1), uint(32-p.Bits())))
			}
		}
		if covered.Cmp(expected) != 0 {
			t.Errorf("IPv4 prefixes cover %s addresses, expected %s", covered, expected)
		}
	})

	t.Run("prefixes do not overlap", func(t *testing.T) {
		for i, a := range prefixes {
			for _, b := range prefixes[i+1:] {
				if a.Overlaps(b) {
					t.Errorf("prefixes %s and %s overlap", a, b)
				}
			}
		}
	})

	t.Run("IPv4 prefixes come first", func(t *testing.T) {
		seenIPv6 := false
		for _, p := range prefixes {
			if p.Addr().Is6() {
				seenIPv6 = true
			} else if seenIPv6 {
				t.Errorf("IPv4 prefix %s listed after an IPv6 prefix", p)
			}
		}
	})
}

// lastAddress returns the last address of p.
func lastAddress(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	addr, _ := netip.AddrFromSlice(b)
	return addr
}

func TestBuildNamespaces(t *testing.T) {
	objects := mustBuild(t, testEnclave())

	tenantOf := map[string]string{"ho-apps": "home-office", "ho-data": "home-office", "nca-cases": "national-crime-agency"}
	var names []string
	for _, ns := range objects.Namespaces {
		names = append(names, ns.Name)
		expected := map[string]string{
			LabelTenant:         tenantOf[ns.Name],
			LabelClassification: "SECRET",
			LabelZone:           DefaultZone,
			LabelEnclave:        "tier2",
			LabelManagedBy:      ManagedBy,
		}
		if diff := cmp.Diff(expected, ns.Labels); diff != "" {
			t.Errorf("namespace %s labels (-expected +got):\n%s", ns.Name, diff)
		}
		if ns.APIVersion != "v1" || ns.Kind != "Namespace" {
			t.Errorf("namespace %s type = %s %s, expected v1 Namespace", ns.Name, ns.APIVersion, ns.Kind)
		}
	}
	if diff := cmp.Diff([]string{"ho-apps", "ho-data", "nca-cases"}, names); diff != "" {
		t.Errorf("namespaces (-expected +got):\n%s", diff)
	}
}

func TestBuildNamespacesUseSpecZone(t *testing.T) {
	e := testEnclave()
	e.Spec.Zone = "secret-enclave"
	for _, ns := range mustBuild(t, e).Namespaces {
		if got := ns.Labels[LabelZone]; got != "secret-enclave" {
			t.Errorf("namespace %s zone label = %q, expected secret-enclave", ns.Name, got)
		}
	}
}

func TestBuildQuotaShares(t *testing.T) {
	tests := map[string]struct {
		cpu, memory             string
		namespaces              []string
		expectedCPU, expectedMB string
	}{
		"even split": {
			cpu: "4", memory: "8Gi", namespaces: []string{"a", "b"},
			expectedCPU: "2", expectedMB: "4Gi",
		},
		"uneven split rounds down": {
			cpu: "1", memory: "1Gi", namespaces: []string{"a", "b", "c"},
			expectedCPU: "333m", expectedMB: "357913941",
		},
		"single namespace takes all": {
			cpu: "500m", memory: "256Mi", namespaces: []string{"a"},
			expectedCPU: "500m", expectedMB: "256Mi",
		},
	}
	for sentence, tc := range tests {
		t.Run(sentence, func(t *testing.T) {
			e := testEnclave()
			e.Spec.Tenants = []estatev1.Tenant{{
				Department: "home-office",
				Namespaces: tc.namespaces,
				Quota:      &estatev1.TenantQuota{CPU: resource.MustParse(tc.cpu), Memory: resource.MustParse(tc.memory)},
			}}
			quotas := mustBuild(t, e).ResourceQuotas
			if len(quotas) != len(tc.namespaces) {
				t.Fatalf("%d ResourceQuotas, expected one per namespace (%d)", len(quotas), len(tc.namespaces))
			}

			totalCPU, totalMemory := resource.Quantity{}, resource.Quantity{}
			for _, q := range quotas {
				if q.Name != QuotaName {
					t.Errorf("quota in %s is named %q, expected %q", q.Namespace, q.Name, QuotaName)
				}
				for _, name := range []corev1.ResourceName{corev1.ResourceRequestsCPU, corev1.ResourceLimitsCPU} {
					if got := q.Spec.Hard[name]; got.String() != tc.expectedCPU {
						t.Errorf("quota in %s %s = %s, expected %s", q.Namespace, name, got.String(), tc.expectedCPU)
					}
				}
				for _, name := range []corev1.ResourceName{corev1.ResourceRequestsMemory, corev1.ResourceLimitsMemory} {
					if got := q.Spec.Hard[name]; got.String() != tc.expectedMB {
						t.Errorf("quota in %s %s = %s, expected %s", q.Namespace, name, got.String(), tc.expectedMB)
					}
				}
				totalCPU.Add(q.Spec.Hard[corev1.ResourceLimitsCPU])
				totalMemory.Add(q.Spec.Hard[corev1.ResourceLimitsMemory])
			}
			if totalCPU.Cmp(resource.MustParse(tc.cpu)) > 0 {
				t.Errorf("CPU shares add up to %s, more than the tenant's %s", totalCPU.String(), tc.cpu)
			}
			if totalMemory.Cmp(resource.MustParse(tc.memory)) > 0 {
				t.Errorf("memory shares add up to %s, more than the tenant's %s", totalMemory.String(), tc.memory)
			}
		})
	}
}

func TestBuildWithoutQuotaWritesNoResourceQuota(t *testing.T) {
	for _, q := range mustBuild(t, testEnclave()).ResourceQuotas {
		if q.Namespace == "nca-cases" {
			t.Errorf("ResourceQuota written in nca-cases, whose tenant has no quota")
		}
	}
}

func TestBuildRoleBindings(t *testing.T) {
	objects := mustBuild(t, testEnclave())

	type binding struct{ Namespace, Group string }
	var got []binding
	for _, rb := range objects.RoleBindings {
		if len(rb.Subjects) != 1 {
			t.Fatalf("RoleBinding %s/%s has %d subjects, expected 1", rb.Namespace, rb.Name, len(rb.Subjects))
		}
		got = append(got, binding{rb.Namespace, rb.Subjects[0].Name})

		expectedRef := rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "edit"}
		if diff := cmp.Diff(expectedRef, rb.RoleRef); diff != "" {
			t.Errorf("RoleBinding %s/%s roleRef (-expected +got):\n%s", rb.Namespace, rb.Name, diff)
		}
		if rb.Subjects[0].Kind != rbacv1.GroupKind {
			t.Errorf("RoleBinding %s/%s subject kind = %s, expected Group", rb.Namespace, rb.Name, rb.Subjects[0].Kind)
		}
		if rb.Name != RoleBindingName(rb.Subjects[0].Name) {
			t.Errorf("RoleBinding %s/%s is not named after its group %q", rb.Namespace, rb.Name, rb.Subjects[0].Name)
		}
	}
	expected := []binding{
		{"ho-apps", "HO Ops:Admins"}, {"ho-apps", "ho-developers"},
		{"ho-data", "HO Ops:Admins"}, {"ho-data", "ho-developers"},
		{"nca-cases", "nca-analysts"},
	}
	if diff := cmp.Diff(expected, got); diff != "" {
		t.Errorf("RoleBindings (-expected +got):\n%s", diff)
	}
}

func TestRoleBindingName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	groups := map[string]string{
		"plain group":             "ho-developers",
		"spaces and colon":        "HO Ops:Admins",
		"email-like group":        "sg-secret@homeoffice.gov.uk",
		"only punctuation":        ":::",
		"very long group":         strings.Repeat("long-group-name-", 10),
		"group differing by case": "HO-DEVELOPERS",
	}
	names := map[string]string{}
	for sentence, group := range groups {
		t.Run(sentence, func(t *testing.T) {
			name := RoleBindingName(group)
			if !valid.MatchString(name) {
				t.Errorf("RoleBindingName(%q) = %q, not a DNS label", group, name)
			}
			if len(name) > 63 {
				t.Errorf("RoleBindingName(%q) = %q is %d characters, more than 63", group, name, len(name))
			}
			if name != RoleBindingName(group) {
				t.Errorf("RoleBindingName(%q) differs between calls", group)
			}
		})
		names[RoleBindingName(group)] = group
	}
	if len(names) != len(groups) {
		t.Errorf("%d distinct names for %d groups: %v", len(names), len(groups), names)
	}
}

func TestBuildPolicies(t *testing.T) {
	e := testEnclave()
	policies := mustBuild(t, e).ClusterNetworkPolicies

	type summary struct {
		Name     string
		Priority int32
	}
	var got []summary
	for _, p := range policies {
		got = append(got, summary{p.Name, p.Spec.Priority})
		if p.Spec.Tier != v1alpha2.AdminTier {
			t.Errorf("policy %s tier = %s, expected Admin", p.Name, p.Spec.Tier)
		}
		if p.Labels[LabelEnclave] != "tier2" || p.Labels[LabelManagedBy] != ManagedBy {
			t.Errorf("policy %s labels %v lack the enclave's owner labels", p.Name, p.Labels)
		}
	}
	expected := []summary{
		{GatewayIngressPolicyName(e), PriorityGatewayIngress},
		{DenyOutsideIngressPolicyName(e), PriorityDenyOutsideIngress},
		{DenyInternetEgressPolicyName(e), PriorityDenyInternetEgress},
		{TenantIsolationPolicyName(e, "home-office"), PriorityTenantIsolationFirst},
		{TenantIsolationPolicyName(e, "national-crime-agency"), PriorityTenantIsolationFirst + 1},
	}
	if diff := cmp.Diff(expected, got); diff != "" {
		t.Errorf("policies (-expected +got):\n%s", diff)
	}

	t.Run("gateway flows merge by zone", func(t *testing.T) {
		gateway := policies[0]
		var rules []string
		for _, r := range gateway.Spec.Ingress {
			var ports []string
			for _, p := range r.Protocols {
				switch {
				case p.TCP != nil:
					ports = append(ports, "TCP/"+itoa(p.TCP.DestinationPort.Number))
				case p.UDP != nil:
					ports = append(ports, "UDP/"+itoa(p.UDP.DestinationPort.Number))
				}
			}
			rules = append(rules, r.Name+" "+string(r.Action)+" "+strings.Join(ports, ","))
		}
		expected := []string{"from-official Accept TCP/443,UDP/514", "from-partner Accept TCP/8443"}
		if diff := cmp.Diff(expected, rules); diff != "" {
			t.Errorf("gateway rules (-expected +got):\n%s", diff)
		}
	})

	t.Run("no gateway policy without flows", func(t *testing.T) {
		e := testEnclave()
		e.Spec.CrossDomainGateway.AllowedFlows = nil
		for _, p := range mustBuild(t, e).ClusterNetworkPolicies {
			if p.Name == GatewayIngressPolicyName(e) {
				t.Errorf("gateway policy built for a gateway without flows")
			}
		}
	})

	t.Run("internet peers fit the schema", func(t *testing.T) {
		egress := policies[2].Spec.Egress
		if len(egress) != 1 {
			t.Fatalf("%d egress rules, expected 1", len(egress))
		}
		if n := len(egress[0].To); n > maxPeersPerRule {
			t.Errorf("%d peers in the egress rule, more than %d", n, maxPeersPerRule)
		}
		total := 0
		for _, peer := range egress[0].To {
			if n := len(peer.Networks); n == 0 || n > maxNetworksPerPeer {
				t.Errorf("peer with %d networks, expected 1 to %d", n, maxNetworksPerPeer)
			}
			total += len(peer.Networks)
		}
		prefixes, _ := InternetPrefixes()
		if total != len(prefixes) {
			t.Errorf("egress rule lists %d networks, expected all %d internet prefixes", total, len(prefixes))
		}
	})
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func TestBuildIsDeterministic(t *testing.T) {
	first := mustBuild(t, testEnclave())
	for range 5 {
		if diff := cmp.Diff(first, mustBuild(t, testEnclave())); diff != "" {
			t.Fatalf("Build output changed between calls (-first +later):\n%s", diff)
		}
	}
}

// TestPolicyPrioritiesNeverAmbiguous builds two enclaves that share a site
// and checks that the evaluator finds no pair of policies with equal
// priority and overlapping subjects.
func TestPolicyPrioritiesNeverAmbiguous(t *testing.T) {
	first := testEnclave()
	second := testEnclave()
	second.Name = "tier2-north"
	second.Spec.Tenants = []estatev1.Tenant{
		{Department: "home-office", Namespaces: []string{"north-ho"}},
		{Department: "hmrc", Namespaces: []string{"north-hmrc"}},
		{Department: "mod", Namespaces: []string{"north-mod"}},
	}
	policies := append(mustBuild(t, first).ClusterNetworkPolicies, mustBuild(t, second).ClusterNetworkPolicies...)

	_, warnings := reachability.New(nil, policies)
	for _, w := range warnings {
		t.Errorf("evaluator warning: %s", w)
	}

	seen := map[int32]string{}
	for _, p := range mustBuild(t, first).ClusterNetworkPolicies {
		if other, taken := seen[p.Spec.Priority]; taken {
			t.Errorf("policies %s and %s of one enclave share priority %d", other, p.Name, p.Spec.Priority)
		}
		seen[p.Spec.Priority] = p.Name
	}
}

func TestBuildRejects(t *testing.T) {
	tests := map[string]struct {
		mutate   func(e *estatev1.Enclave)
		expected string
	}{
		"named gateway port": {
			mutate: func(e *estatev1.Enclave) {
				e.Spec.CrossDomainGateway.AllowedFlows[0].Ports = []estatev1.FlowPort{{Name: "https"}}
			},
			expected: `spec.crossDomainGateway.allowedFlows[0].ports[0] names port "https"`,
		},
		"flow from the enclave's own zone": {
			mutate: func(e *estatev1.Enclave) {
				e.Spec.CrossDomainGateway.AllowedFlows[1].FromZone = DefaultZone
			},
			expected: "spec.crossDomainGateway.allowedFlows[1].fromZone is the enclave's own zone",
		},
		"namespace shared by two tenants": {
			mutate: func(e *estatev1.Enclave) {
				e.Spec.Tenants[1].Namespaces = append(e.Spec.Tenants[1].Namespaces, "nca-cases")
			},
			expected: `namespace "nca-cases" already belongs to tenant national-crime-agency`,
		},
		"empty member group": {
			mutate:   func(e *estatev1.Enclave) { e.Spec.Tenants[0].Members = []string{""} },
			expected: "spec.tenants[0].members[0] is empty",
		},
		"quota too small to split": {
			mutate: func(e *estatev1.Enclave) {
				e.Spec.Tenants[1].Quota.CPU = resource.MustParse("1m")
			},
			expected: "quota.cpu 1m is less than 1m for each of its 2 namespaces",
		},
		"enclave name too long for a label": {
			mutate:   func(e *estatev1.Enclave) { e.Name = strings.Repeat("e", 64) },
			expected: "cannot be the value of label " + LabelEnclave,
		},
		"too many gateway rules": {
			mutate: func(e *estatev1.Enclave) {
				e.Spec.CrossDomainGateway.AllowedFlows = nil
				for i := range 26 {
					e.Spec.CrossDomainGateway.AllowedFlows = append(e.Spec.CrossDomainGateway.AllowedFlows,
						estatev1.GatewayFlow{FromZone: "zone-" + itoa(int32(i)), Ports: []estatev1.FlowPort{{Port: 443}}})
				}
			},
			expected: "need 26 ClusterNetworkPolicy rules",
		},
	}
	for sentence, tc := range tests {
		t.Run(sentence, func(t *testing.T) {
			e := testEnclave()
			tc.mutate(e)
			_, err := Build(e)
			if err == nil {
				t.Fatalf("Build succeeded, expected an error containing %q", tc.expected)
			}
			if !strings.Contains(err.Error(), tc.expected) {
				t.Errorf("Build error = %q, expected it to contain %q", err, tc.expected)
			}
		})
	}
}
