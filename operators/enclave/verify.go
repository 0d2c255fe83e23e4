package enclave

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/enclave"
)

// verify checks every control on one site and returns a finding per
// control condition. The network controls are evaluated against the
// namespaces and ClusterNetworkPolicies listed from the site at this moment,
// read straight from its API server; the others go to the site's
// SiteInspector.
func (r *EnclaveReconciler) verify(ctx context.Context, c client.Client, e *estatev1.Enclave, site string) map[string]enclave.Finding {
	findings := map[string]enclave.Finding{}

	namespaces := &corev1.NamespaceList{}
	policies := &v1alpha2.ClusterNetworkPolicyList{}
	var listErr error
	if err := c.List(ctx, namespaces); err != nil {
		listErr = fmt.Errorf("listing namespaces on the site failed: %w", err)
	} else if err := c.List(ctx, policies); err != nil {
		listErr = fmt.Errorf("listing ClusterNetworkPolicies on the site failed: %w", err)
	}
	if listErr != nil {
		failed := enclave.Finding{Status: metav1.ConditionUnknown, Reason: enclave.ReasonVerificationFailed, Message: listErr.Error()}
		findings[enclave.ConditionNoInternetEgress] = failed
		findings[enclave.ConditionTenantIsolation] = failed
	} else {
		findings[enclave.ConditionNoInternetEgress] = enclave.VerifyNoInternetEgress(e, namespaces.Items, policies.Items)
		findings[enclave.ConditionTenantIsolation] = enclave.VerifyTenantIsolation(e, namespaces.Items, policies.Items)
	}

	inspector := r.Options.Inspectors[site]
	if inspector == nil {
		inspector = r.Options.DefaultInspector
	}
	if inspector == nil {
		unverifiable := enclave.Finding{
			Status:  metav1.ConditionUnknown,
			Reason:  enclave.ReasonNotVerifiable,
			Message: "no SiteInspector is configured for this site, so nothing can check its API server's configuration",
		}
		findings[enclave.ConditionEncryptionAtRest] = unverifiable
		findings[enclave.ConditionAuditLogging] = unverifiable
		return findings
	}
	findings[enclave.ConditionEncryptionAtRest] = inspect(ctx, site, inspector.EncryptionAtRest, enclave.ReasonNotEncrypted)
	findings[enclave.ConditionAuditLogging] = inspect(ctx, site, inspector.AuditLogging, enclave.ReasonNotAudited)
	return findings
}

// inspect runs one SiteInspector check and turns its result into a finding,
// with failReason when the control does not hold.
func inspect(ctx context.Context, site string, check func(context.Context, string) (bool, string, error), failReason string) enclave.Finding {
	holds, message, err := check(ctx, site)
	switch {
	case err != nil:
		return enclave.Finding{Status: metav1.ConditionUnknown, Reason: enclave.ReasonVerificationFailed, Message: err.Error()}
	case holds:
		return enclave.Finding{Status: metav1.ConditionTrue, Reason: enclave.ReasonVerified, Message: message}
	default:
		return enclave.Finding{Status: metav1.ConditionFalse, Reason: failReason, Message: message}
	}
}
