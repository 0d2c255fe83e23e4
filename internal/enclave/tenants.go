package enclave

import (
	"slices"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// Tenants returns the departments that may place SECRET workloads on site:
// the tenants of every enclave that lists the site, sorted and without
// duplicates. Enclaves being deleted are left out. An empty result means the
// site is in no enclave, so it takes no SECRET workload.
func Tenants(enclaves []estatev1.Enclave, site string) []string {
	var departments []string
	for i := range enclaves {
		e := &enclaves[i]
		if !e.DeletionTimestamp.IsZero() || !slices.Contains(e.Spec.Sites, site) {
			continue
		}
		for _, tenant := range e.Spec.Tenants {
			departments = append(departments, tenant.Department)
		}
	}
	slices.Sort(departments)
	return slices.Compact(departments)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
