package enclave

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

func verified(message string) Finding {
	return Finding{Status: metav1.ConditionTrue, Reason: ReasonVerified, Message: message}
}

// allHold returns a report in which every control holds.
func allHold(site string) SiteReport {
	controls := map[string]Finding{}
	for _, c := range ControlConditions {
		controls[c] = verified(c + " holds")
	}
	return SiteReport{Site: site, Controls: controls}
}

func with(r SiteReport, control string, f Finding) SiteReport {
	controls := map[string]Finding{}
	for k, v := range r.Controls {
		controls[k] = v
	}
	controls[control] = f
	r.Controls = controls
	return r
}

func TestConditions(t *testing.T) {
	type state struct {
		Status  metav1.ConditionStatus
		Reason  string
		Message string
	}
	tests := map[string]struct {
		reports  []SiteReport
		expected map[string]state
	}{
		"every control holds on both sites": {
			reports: []SiteReport{allHold("crown-b"), allHold("crown-a")},
			expected: map[string]state{
				ConditionReady:            {metav1.ConditionTrue, ReasonControlsHold, "every control verified on crown-a, crown-b"},
				ConditionTenantIsolation:  {metav1.ConditionTrue, ReasonVerified, "crown-a: TenantIsolation holds; crown-b: TenantIsolation holds"},
				ConditionEncryptionAtRest: {metav1.ConditionTrue, ReasonVerified, "crown-a: EncryptionAtRest holds; crown-b: EncryptionAtRest holds"},
			},
		},
		"control fails on one site": {
			reports: []SiteReport{
				allHold("crown-a"),
				with(allHold("crown-b"), ConditionTenantIsolation, Finding{metav1.ConditionFalse, ReasonTenantsConnected, "pods connect"}),
			},
			expected: map[string]state{
				ConditionReady:           {metav1.ConditionFalse, ReasonControlFailed, "TenantIsolation not held on every site; see those conditions"},
				ConditionTenantIsolation: {metav1.ConditionFalse, ReasonTenantsConnected, "crown-b: pods connect"},
			},
		},
		"site without an inspector": {
			reports: []SiteReport{
				with(allHold("crown-a"), ConditionAuditLogging, Finding{metav1.ConditionUnknown, ReasonNotVerifiable, "no inspector"}),
			},
			expected: map[string]state{
				ConditionReady:        {metav1.ConditionFalse, ReasonNotVerifiable, "AuditLogging not verified on every site; see those conditions"},
				ConditionAuditLogging: {metav1.ConditionUnknown, ReasonNotVerifiable, "crown-a: no inspector"},
			},
		},
		"failure outranks unknown": {
			reports: []SiteReport{
				with(allHold("crown-a"), ConditionEncryptionAtRest, Finding{metav1.ConditionUnknown, ReasonNotVerifiable, "no inspector"}),
				with(allHold("crown-b"), ConditionEncryptionAtRest, Finding{metav1.ConditionFalse, ReasonNotEncrypted, "plain"}),
			},
			expected: map[string]state{
				ConditionReady:            {metav1.ConditionFalse, ReasonControlFailed, "EncryptionAtRest not held on every site; see those conditions"},
				ConditionEncryptionAtRest: {metav1.ConditionFalse, ReasonNotEncrypted, "crown-b: plain"},
			},
		},
		"site not accredited": {
			reports: []SiteReport{
				allHold("crown-a"),
				{Site: "aws-london", Problem: &Finding{metav1.ConditionFalse, ReasonSiteNotAccredited, "HostingSite aws-london is accredited OFFICIAL, not SECRET"}},
			},
			expected: map[string]state{
				ConditionReady:            {metav1.ConditionFalse, ReasonSiteNotAccredited, "aws-london: HostingSite aws-london is accredited OFFICIAL, not SECRET"},
				ConditionNoInternetEgress: {metav1.ConditionUnknown, ReasonSiteNotAccredited, "aws-london: HostingSite aws-london is accredited OFFICIAL, not SECRET"},
			},
		},
		"accreditation outranks unreachable": {
			reports: []SiteReport{
				{Site: "crown-a", Problem: &Finding{metav1.ConditionFalse, ReasonSiteUnreachable, "timeout"}},
				{Site: "crown-b", Problem: &Finding{metav1.ConditionFalse, ReasonSiteNotAccredited, "not found"}},
			},
			expected: map[string]state{
				ConditionReady: {metav1.ConditionFalse, ReasonSiteNotAccredited, "crown-a: timeout; crown-b: not found"},
			},
		},
		"control missing from a report": {
			reports: []SiteReport{{Site: "crown-a", Controls: map[string]Finding{}}},
			expected: map[string]state{
				ConditionNoInternetEgress: {metav1.ConditionUnknown, ReasonVerificationFailed, "crown-a: not checked"},
			},
		},
	}
	for sentence, tc := range tests {
		t.Run(sentence, func(t *testing.T) {
			conditions := Conditions(tc.reports, 7)

			var types []string
			for _, c := range conditions {
				types = append(types, c.Type)
				if c.ObservedGeneration != 7 {
					t.Errorf("%s observedGeneration = %d, expected 7", c.Type, c.ObservedGeneration)
				}
			}
			expectedTypes := append([]string{ConditionReady}, ControlConditions...)
			if diff := cmp.Diff(expectedTypes, types); diff != "" {
				t.Errorf("condition types (-expected +got):\n%s", diff)
			}

			for conditionType, expected := range tc.expected {
				c := meta.FindStatusCondition(conditions, conditionType)
				if c == nil {
					t.Fatalf("no %s condition", conditionType)
				}
				got := state{c.Status, c.Reason, c.Message}
				if diff := cmp.Diff(expected, got); diff != "" {
					t.Errorf("%s (-expected +got):\n%s", conditionType, diff)
				}
			}
		})
	}
}

func TestConditionsTruncateLongMessages(t *testing.T) {
	long := strings.Repeat("x", maxConditionMessage)
	reports := []SiteReport{
		with(allHold("crown-a"), ConditionTenantIsolation, Finding{metav1.ConditionFalse, ReasonTenantsConnected, long}),
		with(allHold("crown-b"), ConditionTenantIsolation, Finding{metav1.ConditionFalse, ReasonTenantsConnected, long}),
	}
	c := meta.FindStatusCondition(Conditions(reports, 1), ConditionTenantIsolation)
	if len(c.Message) > maxConditionMessage {
		t.Errorf("message is %d bytes, more than the API's %d", len(c.Message), maxConditionMessage)
	}
	if !strings.HasSuffix(c.Message, "(truncated)") {
		t.Errorf("truncated message does not say so: ...%s", c.Message[len(c.Message)-20:])
	}
}

func TestTenants(t *testing.T) {
	deleting := metav1.Now()
	enclaves := []estatev1.Enclave{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "south"},
			Spec: estatev1.EnclaveSpec{Sites: []string{"crown-a", "crown-b"}, Tenants: []estatev1.Tenant{
				{Department: "national-crime-agency"}, {Department: "home-office"},
			}},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "north"},
			Spec: estatev1.EnclaveSpec{Sites: []string{"crown-b"}, Tenants: []estatev1.Tenant{
				{Department: "home-office"}, {Department: "hmrc"},
			}},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "old", DeletionTimestamp: &deleting},
			Spec:       estatev1.EnclaveSpec{Sites: []string{"crown-a"}, Tenants: []estatev1.Tenant{{Department: "mod"}}},
		},
	}
	tests := map[string]struct {
		site     string
		expected []string
	}{
		"site in two enclaves":       {"crown-b", []string{"hmrc", "home-office", "national-crime-agency"}},
		"site in no enclave":         {"aws-london", nil},
		"site of a deleting enclave": {"crown-a", []string{"home-office", "national-crime-agency"}},
	}
	for sentence, tc := range tests {
		t.Run(sentence, func(t *testing.T) {
			if diff := cmp.Diff(tc.expected, Tenants(enclaves, tc.site)); diff != "" {
				t.Errorf("Tenants(%s) (-expected +got):\n%s", tc.site, diff)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	e := testEnclave()
	e.Status.Conditions = []metav1.Condition{
		{Type: ConditionReady, Status: metav1.ConditionFalse, Reason: ReasonControlFailed, Message: "TenantIsolation not held", ObservedGeneration: 3},
		{Type: ConditionTenantIsolation, Status: metav1.ConditionFalse, Reason: ReasonTenantsConnected, Message: "pods connect", ObservedGeneration: 3},
		{Type: ConditionNoInternetEgress, Status: metav1.ConditionTrue, Reason: ReasonVerified, Message: "denied", ObservedGeneration: 2},
	}
	s := Summary(e)

	t.Run("spec fields", func(t *testing.T) {
		expected := EnclaveSummary{
			Name:  "tier2",
			Zone:  DefaultZone,
			Sites: []string{"crown-a", "crown-b"},
			Tenants: []TenantSummary{
				{Department: "home-office", Namespaces: []string{"ho-apps", "ho-data"}, Members: []string{"HO Ops:Admins", "ho-developers"}, CPU: "3", Memory: "8Gi"},
				{Department: "national-crime-agency", Namespaces: []string{"nca-cases"}, Members: []string{"nca-analysts"}},
			},
			Gateway: GatewaySummary{Name: "cds", Flows: []string{"official 443/TCP,514/UDP", "partner 8443/TCP", "official 443/TCP"}},
		}
		got := s
		got.Ready, got.Controls = ControlState{}, nil
		if diff := cmp.Diff(expected, got); diff != "" {
			t.Errorf("summary (-expected +got):\n%s", diff)
		}
	})

	t.Run("control states", func(t *testing.T) {
		expected := []ControlState{
			{Control: ConditionNoInternetEgress, Required: true, Status: "True", Reason: ReasonVerified, Message: "denied", Stale: true},
			{Control: ConditionTenantIsolation, Required: true, Status: "False", Reason: ReasonTenantsConnected, Message: "pods connect"},
			{Control: ConditionEncryptionAtRest, Required: true, Status: "Unknown", Reason: ReasonPending},
			{Control: ConditionAuditLogging, Required: true, Status: "Unknown", Reason: ReasonPending},
		}
		if diff := cmp.Diff(expected, s.Controls); diff != "" {
			t.Errorf("controls (-expected +got):\n%s", diff)
		}
		expectedReady := ControlState{Control: ConditionReady, Required: true, Status: "False", Reason: ReasonControlFailed, Message: "TenantIsolation not held"}
		if diff := cmp.Diff(expectedReady, s.Ready); diff != "" {
			t.Errorf("ready (-expected +got):\n%s", diff)
		}
	})

	t.Run("controls table", func(t *testing.T) {
		table := s.ControlsTable()
		if len(table.Rows) != 5 {
			t.Fatalf("%d rows, expected Ready and four controls", len(table.Rows))
		}
		if got := table.Rows[1][2]; got != "True (stale)" {
			t.Errorf("status cell of a condition for an older generation = %q, expected %q", got, "True (stale)")
		}
	})

	t.Run("tenants table", func(t *testing.T) {
		table := s.TenantsTable()
		expected := [][]string{
			{"home-office", "ho-apps,ho-data", "3", "8Gi", "HO Ops:Admins,ho-developers"},
			{"national-crime-agency", "nca-cases", "<none>", "<none>", "nca-analysts"},
		}
		if diff := cmp.Diff(expected, table.Rows); diff != "" {
			t.Errorf("tenant rows (-expected +got):\n%s", diff)
		}
	})
}
