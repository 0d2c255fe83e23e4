// Package fromapi converts estate API objects into the placement engine's
// plain values, so the operator and the dry-run planner feed the engine the
// same way.
package fromapi

import (
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/placement"
)

// DateLayout is the form of CloudFirstException.expires.
const DateLayout = time.DateOnly

// Key returns the "namespace/name" key that reservations use.
func Key(w *estatev1.Workload) string {
	return w.Namespace + "/" + w.Name
}

// Site converts a HostingSite. Capacity held by the workload named by exclude
// ("namespace/name", may be empty) is not counted as allocated, so a workload
// re-evaluating its own site does not compete with itself. enclaves supply
// the enclave and tenants of a SECRET site.
func Site(hs *estatev1.HostingSite, enclaves []estatev1.Enclave, exclude string) placement.Site {
	s := placement.Site{
		Name:          hs.Name,
		Tier:          placement.Tier(hs.Spec.Tier),
		Jurisdiction:  hs.Spec.Jurisdiction,
		Accreditation: placement.Classification(hs.Spec.Accreditation),
		Capabilities:  make([]string, 0, len(hs.Spec.Capabilities)),
		Capacity: placement.Resources{
			MilliCPU:    hs.Spec.Capacity.CPU.MilliValue(),
			MemoryBytes: hs.Spec.Capacity.Memory.Value(),
		},
		MaxWorkloads: int64(hs.Spec.Capacity.Workloads),
		CostWeight:   hs.Spec.CostWeight,
		Ready:        true,
	}
	for _, c := range hs.Spec.Capabilities {
		s.Capabilities = append(s.Capabilities, string(c))
	}
	for _, r := range hs.Status.Reservations {
		if r.Workload == exclude {
			continue
		}
		s.Allocated.MilliCPU += r.CPU.MilliValue()
		s.Allocated.MemoryBytes += r.Memory.Value()
		s.AllocatedWorkloads++
	}
	for i := range enclaves {
		if slices.Contains(enclaves[i].Spec.Sites, hs.Name) && enclaves[i].DeletionTimestamp.IsZero() {
			s.Enclave = enclaves[i].Name
			for _, t := range enclaves[i].Spec.Tenants {
				s.Tenants = append(s.Tenants, t.Department)
			}
			break
		}
	}
	switch {
	case !hs.DeletionTimestamp.IsZero():
		s.Ready, s.NotReadyReason = false, "being deleted"
	case hs.Spec.Unschedulable:
		s.Ready, s.NotReadyReason = false, "cordoned"
	}
	return s
}

// Sites converts every HostingSite, excluding the given workload's own reservation.
func Sites(list []estatev1.HostingSite, enclaves []estatev1.Enclave, exclude string) []placement.Site {
	out := make([]placement.Site, 0, len(list))
	for i := range list {
		out = append(out, Site(&list[i], enclaves, exclude))
	}
	return out
}

// Workload converts a Workload. It fails only when the exception's expiry
// does not parse, which the schema's date format rejects at the API.
func Workload(w *estatev1.Workload) (placement.Workload, error) {
	pw := placement.Workload{
		Namespace:            w.Namespace,
		Name:                 w.Name,
		Classification:       placement.Classification(w.Spec.Classification),
		Residency:            w.Spec.Hosting.Residency,
		RequiredCapabilities: make([]string, 0, len(w.Spec.Hosting.RequiredCapabilities)),
		Sites:                w.Spec.Hosting.Sites,
		Department:           w.Spec.Owner.Department,
		Requests: placement.Resources{
			MilliCPU:    w.Spec.Resources.CPU.MilliValue(),
			MemoryBytes: w.Spec.Resources.Memory.Value(),
		},
	}
	if pw.Department == "" {
		pw.Department = estatev1.DefaultDepartment
	}
	for _, c := range w.Spec.Hosting.RequiredCapabilities {
		pw.RequiredCapabilities = append(pw.RequiredCapabilities, string(c))
	}
	if w.Status.Placement != nil {
		pw.CurrentSite = w.Status.Placement.Site
	}
	if e := w.Spec.Hosting.CloudFirstException; e != nil {
		day, err := time.Parse(DateLayout, e.Expires)
		if err != nil {
			return pw, fmt.Errorf("spec.hosting.cloudFirstException.expires: invalid date %q: use the form YYYY-MM-DD, for example 2027-03-31", e.Expires)
		}
		// The exception holds for the whole of its last day (UTC).
		pw.Exception = &placement.Exception{
			Justification: e.Justification,
			Approver:      e.Approver,
			Expires:       day.Add(24 * time.Hour),
		}
	}
	return pw, nil
}

// Score converts an engine score into its API form.
func Score(s placement.Score) *estatev1.PlacementScore {
	return &estatev1.PlacementScore{Tier: s.Tier, Cost: s.Cost, Headroom: s.Headroom, Total: s.Total}
}

// Placement converts a decision into the Workload status form.
func Placement(d placement.Decision) *estatev1.Placement {
	p := &estatev1.Placement{
		Site:    d.Site,
		Tier:    estatev1.Tier(d.Tier),
		Reason:  string(d.Reason),
		Message: d.Message,
		Sites:   make([]estatev1.SiteOutcome, 0, len(d.Outcomes)),
	}
	if d.Site != "" {
		p.Score = Score(d.Score)
	}
	for _, o := range d.Outcomes {
		so := estatev1.SiteOutcome{
			Site:     o.Site,
			Tier:     estatev1.Tier(o.Tier),
			Eligible: o.Eligible,
			Reason:   string(o.Reason),
			Message:  o.Message,
		}
		if o.Eligible {
			so.Score = Score(o.Score)
		}
		p.Sites = append(p.Sites, so)
	}
	return p
}

// Reservation returns the reservation a workload holds on its site.
func Reservation(w *estatev1.Workload) estatev1.Reservation {
	return estatev1.Reservation{
		Workload: Key(w),
		UID:      string(w.UID),
		CPU:      w.Spec.Resources.CPU.DeepCopy(),
		Memory:   w.Spec.Resources.Memory.DeepCopy(),
	}
}

// Allocation sums reservations.
func Allocation(rs []estatev1.Reservation) estatev1.SiteAllocation {
	cpu, mem := resource.NewMilliQuantity(0, resource.DecimalSI), resource.NewQuantity(0, resource.BinarySI)
	for _, r := range rs {
		cpu.Add(r.CPU)
		mem.Add(r.Memory)
	}
	return estatev1.SiteAllocation{CPU: *cpu, Memory: *mem, Workloads: int32(len(rs))}
}
