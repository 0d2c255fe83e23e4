package enclave

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/printers"
)

// EnclaveSummary is the output of `estatectl enclave show` for one enclave.
type EnclaveSummary struct {
	Name    string          `json:"name"`
	Zone    string          `json:"zone"`
	Sites   []string        `json:"sites"`
	Tenants []TenantSummary `json:"tenants"`
	Gateway GatewaySummary  `json:"gateway"`
	// Ready is the Ready condition's state.
	Ready ControlState `json:"ready"`
	// Controls are the four controls in ControlConditions order.
	Controls []ControlState `json:"controls"`
}

// TenantSummary is one tenant of an enclave. CPU and Memory are the
// tenant's total on each site, empty without a quota.
type TenantSummary struct {
	Department string   `json:"department"`
	Namespaces []string `json:"namespaces"`
	Members    []string `json:"members,omitempty"`
	CPU        string   `json:"cpu,omitempty"`
	Memory     string   `json:"memory,omitempty"`
}

// GatewaySummary is the cross-domain gateway and its flows, each written as
// "<fromZone> <port>/<protocol>,...".
type GatewaySummary struct {
	Name  string   `json:"name"`
	Flows []string `json:"flows,omitempty"`
}

// ControlState is a control as the spec requires it and as the operator
// last verified it.
type ControlState struct {
	Control string `json:"control"`
	// Required is the spec's setting. The API accepts only true for the
	// four controls; Ready has no setting and is always true.
	Required bool `json:"required"`
	// Status is True, False or Unknown. It is Unknown with reason Pending
	// before the operator first writes the condition.
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
	// Stale is set when the condition was written for an older
	// generation of the spec.
	Stale bool `json:"stale,omitempty"`
}

// ReasonPending is a ControlState's reason when the enclave has no condition
// of that type yet.
const ReasonPending = "Pending"

// Summary returns the enclave's tenants, sites, gateway and the state of
// each control from its status conditions.
func Summary(e *estatev1.Enclave) EnclaveSummary {
	s := EnclaveSummary{
		Name:    e.Name,
		Zone:    Zone(e),
		Sites:   slices.Sorted(slices.Values(e.Spec.Sites)),
		Gateway: GatewaySummary{Name: e.Spec.CrossDomainGateway.Name},
	}
	for _, t := range sortedTenants(e) {
		ts := TenantSummary{
			Department: t.Department,
			Namespaces: sortedCopy(t.Namespaces),
			Members:    sortedCopy(t.Members),
		}
		if t.Quota != nil {
			ts.CPU, ts.Memory = t.Quota.CPU.String(), t.Quota.Memory.String()
		}
		s.Tenants = append(s.Tenants, ts)
	}
	for _, flow := range e.Spec.CrossDomainGateway.AllowedFlows {
		ports := make([]string, 0, len(flow.Ports))
		for _, p := range flow.Ports {
			protocol := p.Protocol
			if protocol == "" {
				protocol = "TCP"
			}
			port := p.Name
			if p.Port != 0 {
				port = fmt.Sprint(p.Port)
			}
			ports = append(ports, port+"/"+protocol)
		}
		s.Gateway.Flows = append(s.Gateway.Flows, flow.FromZone+" "+strings.Join(ports, ","))
	}

	s.Ready = controlState(e, ConditionReady, true)
	required := map[string]bool{
		ConditionNoInternetEgress: e.Spec.Controls.NoInternetEgress,
		ConditionTenantIsolation:  e.Spec.Controls.TenantIsolation,
		ConditionEncryptionAtRest: e.Spec.Controls.EncryptionAtRest,
		ConditionAuditLogging:     e.Spec.Controls.AuditLogging,
	}
	for _, control := range ControlConditions {
		s.Controls = append(s.Controls, controlState(e, control, required[control]))
	}
	return s
}

func controlState(e *estatev1.Enclave, conditionType string, required bool) ControlState {
	state := ControlState{Control: conditionType, Required: required, Status: string(metav1.ConditionUnknown), Reason: ReasonPending}
	c := meta.FindStatusCondition(e.Status.Conditions, conditionType)
	if c == nil {
		return state
	}
	state.Status, state.Reason, state.Message = string(c.Status), c.Reason, c.Message
	state.Stale = c.ObservedGeneration != e.Generation
	return state
}

// ControlsTable returns Ready and the controls as table rows, with the
// message shown only with -o wide.
func (s EnclaveSummary) ControlsTable() printers.Table {
	t := printers.Table{Columns: []printers.Column{
		{Name: "Control"}, {Name: "Required"}, {Name: "Status"}, {Name: "Reason"}, {Name: "Message", Wide: true},
	}}
	for _, c := range append([]ControlState{s.Ready}, s.Controls...) {
		status := c.Status
		if c.Stale {
			status += " (stale)"
		}
		t.Rows = append(t.Rows, []string{c.Control, fmt.Sprint(c.Required), status, c.Reason, c.Message})
	}
	return t
}

// TenantsTable returns one row per tenant.
func (s EnclaveSummary) TenantsTable() printers.Table {
	t := printers.Table{Columns: []printers.Column{
		{Name: "Department"}, {Name: "Namespaces"}, {Name: "CPU"}, {Name: "Memory"}, {Name: "Members", Wide: true},
	}}
	for _, tenant := range s.Tenants {
		t.Rows = append(t.Rows, []string{
			tenant.Department,
			strings.Join(tenant.Namespaces, ","),
			orNone(tenant.CPU),
			orNone(tenant.Memory),
			orNone(strings.Join(tenant.Members, ",")),
		})
	}
	return t
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
