package enclave

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/ukhomeoffice/estate/crds"
	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/enclave"
)

// clusterNetworkPolicyCRD is the name of the ClusterNetworkPolicy CRD that
// the operator installs on a site that lacks it.
const clusterNetworkPolicyCRD = "clusternetworkpolicies.policy.networking.k8s.io"

// siteScheme holds the kinds the operator reads and writes on a site.
var siteScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(v1alpha2.Install(s))
	return s
}()

// siteError is a failure on a site, with the condition reason it maps to.
type siteError struct {
	reason string
	err    error
}

func (e *siteError) Error() string { return e.err.Error() }
func (e *siteError) Unwrap() error { return e.err }

func siteErrorf(reason, format string, args ...any) error {
	return &siteError{reason: reason, err: fmt.Errorf(format, args...)}
}

// siteProblem turns a site failure into the report's problem.
func siteProblem(err error) *enclave.Finding {
	reason := enclave.ReasonSiteUnreachable
	var se *siteError
	if errors.As(err, &se) {
		reason = se.reason
	}
	return &enclave.Finding{Status: metav1.ConditionFalse, Reason: reason, Message: err.Error()}
}

type cachedClient struct {
	// version identifies the Secret content the client was built from.
	version string
	client  client.Client
}

// siteClient returns a client of the site's API server built from the
// kubeconfig Secret its spec.connection.kubeconfigSecretRef names.
func (r *EnclaveReconciler) siteClient(ctx context.Context, site *estatev1.HostingSite) (client.Client, error) {
	if site.Spec.Connection == nil || site.Spec.Connection.KubeconfigSecretRef == nil {
		return nil, siteErrorf(enclave.ReasonNoConnection,
			"HostingSite %s has no spec.connection.kubeconfigSecretRef: name the Secret that holds the site's kubeconfig", site.Name)
	}
	ref := site.Spec.Connection.KubeconfigSecretRef
	key := ref.Key
	if key == "" {
		key = "kubeconfig"
	}

	secret := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, siteErrorf(enclave.ReasonNoConnection,
				"Secret %s/%s named by HostingSite %s spec.connection.kubeconfigSecretRef not found: create it with the site's kubeconfig under key %q",
				ref.Namespace, ref.Name, site.Name, key)
		}
		return nil, siteErrorf(enclave.ReasonSiteUnreachable, "reading kubeconfig Secret %s/%s of HostingSite %s failed: %w", ref.Namespace, ref.Name, site.Name, err)
	}
	version := string(secret.UID) + "/" + secret.ResourceVersion + "/" + key

	r.clientsMu.Lock()
	cached, ok := r.clients[site.Name]
	r.clientsMu.Unlock()
	if ok && cached.version == version {
		return cached.client, nil
	}

	data, ok := secret.Data[key]
	if !ok {
		return nil, siteErrorf(enclave.ReasonNoConnection,
			"Secret %s/%s of HostingSite %s has no key %q: put the site's kubeconfig under that key or set kubeconfigSecretRef.key",
			ref.Namespace, ref.Name, site.Name, key)
	}
	config, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		return nil, siteErrorf(enclave.ReasonNoConnection, "kubeconfig in Secret %s/%s key %q of HostingSite %s is invalid: %w",
			ref.Namespace, ref.Name, key, site.Name, err)
	}
	config.Timeout = 30 * time.Second
	c, err := client.New(config, client.Options{Scheme: siteScheme})
	if err != nil {
		return nil, siteErrorf(enclave.ReasonSiteUnreachable, "creating a client for HostingSite %s at %s failed: %w", site.Name, config.Host, err)
	}

	r.clientsMu.Lock()
	if r.clients == nil {
		r.clients = map[string]cachedClient{}
	}
	r.clients[site.Name] = cachedClient{version: version, client: c}
	r.clientsMu.Unlock()
	return c, nil
}

// applyObjects installs the ClusterNetworkPolicy CRD if the site lacks it,
// applies every object with server-side apply, taking over fields another
// manager changed, and deletes objects the enclave wrote earlier that it no
// longer needs. Namespaces are never deleted, because they hold the
// tenants' data.
func applyObjects(ctx context.Context, c client.Client, e *estatev1.Enclave, objects *enclave.Objects) error {
	if err := ensureClusterNetworkPolicyCRD(ctx, c); err != nil {
		return err
	}

	var all []client.Object
	for i := range objects.Namespaces {
		all = append(all, &objects.Namespaces[i])
	}
	for i := range objects.ResourceQuotas {
		all = append(all, &objects.ResourceQuotas[i])
	}
	for i := range objects.RoleBindings {
		all = append(all, &objects.RoleBindings[i])
	}
	for i := range objects.ClusterNetworkPolicies {
		all = append(all, &objects.ClusterNetworkPolicies[i])
	}
	for _, obj := range all {
		if err := apply(ctx, c, obj); err != nil {
			return err
		}
	}
	return prune(ctx, c, e, objects)
}

// apply sends obj as a server-side apply patch owned by enclave.ManagedBy.
// Only the fields Build sets are sent: status and the zero creation
// timestamp that typed objects carry are left out.
func apply(ctx context.Context, c client.Client, obj client.Object) error {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Errorf("converting %s %s for apply: %w", obj.GetObjectKind().GroupVersionKind().Kind, client.ObjectKeyFromObject(obj), err)
	}
	delete(content, "status")
	unstructured.RemoveNestedField(content, "metadata", "creationTimestamp")
	u := &unstructured.Unstructured{Object: content}

	err = c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(enclave.ManagedBy), client.ForceOwnership)
	if err != nil {
		return siteErrorf(enclave.ReasonApplyFailed, "applying %s %s failed: %w", u.GetKind(), describe(u), err)
	}
	return nil
}

func describe(obj client.Object) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}

// prune deletes the ClusterNetworkPolicies, RoleBindings and ResourceQuotas
// labelled as this enclave's that objects no longer contains, for example
// the binding of a member removed from a tenant.
func prune(ctx context.Context, c client.Client, e *estatev1.Enclave, objects *enclave.Objects) error {
	selector, err := labels.Parse(enclave.OwnedSelector(e))
	if err != nil {
		return fmt.Errorf("parsing the owned-object selector: %w", err)
	}
	owned := client.MatchingLabelsSelector{Selector: selector}

	keep := map[string]bool{}
	for _, p := range objects.ClusterNetworkPolicies {
		keep["ClusterNetworkPolicy/"+p.Name] = true
	}
	for _, rb := range objects.RoleBindings {
		keep["RoleBinding/"+rb.Namespace+"/"+rb.Name] = true
	}
	for _, q := range objects.ResourceQuotas {
		keep["ResourceQuota/"+q.Namespace+"/"+q.Name] = true
	}

	var stale []client.Object
	policies := &v1alpha2.ClusterNetworkPolicyList{}
	if err := c.List(ctx, policies, owned); err != nil {
		return siteErrorf(enclave.ReasonApplyFailed, "listing the enclave's ClusterNetworkPolicies: %w", err)
	}
	for i := range policies.Items {
		if !keep["ClusterNetworkPolicy/"+policies.Items[i].Name] {
			stale = append(stale, &policies.Items[i])
		}
	}
	bindings := &rbacv1.RoleBindingList{}
	if err := c.List(ctx, bindings, owned); err != nil {
		return siteErrorf(enclave.ReasonApplyFailed, "listing the enclave's RoleBindings: %w", err)
	}
	for i := range bindings.Items {
		if !keep["RoleBinding/"+describe(&bindings.Items[i])] {
			stale = append(stale, &bindings.Items[i])
		}
	}
	quotas := &corev1.ResourceQuotaList{}
	if err := c.List(ctx, quotas, owned); err != nil {
		return siteErrorf(enclave.ReasonApplyFailed, "listing the enclave's ResourceQuotas: %w", err)
	}
	for i := range quotas.Items {
		if !keep["ResourceQuota/"+describe(&quotas.Items[i])] {
			stale = append(stale, &quotas.Items[i])
		}
	}

	for _, obj := range stale {
		if err := c.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return siteErrorf(enclave.ReasonApplyFailed, "deleting %T %s, which the enclave no longer needs: %w", obj, describe(obj), err)
		}
	}
	return nil
}

// ensureClusterNetworkPolicyCRD creates the ClusterNetworkPolicy CRD that
// estate embeds when the site has none, and waits until the site serves the
// kind. A CRD already on the site is left as it is, even at another version.
func ensureClusterNetworkPolicyCRD(ctx context.Context, c client.Client) error {
	existing := &apiextensionsv1.CustomResourceDefinition{}
	err := c.Get(ctx, types.NamespacedName{Name: clusterNetworkPolicyCRD}, existing)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return siteErrorf(enclave.ReasonSiteUnreachable, "reading CRD %s failed: %w", clusterNetworkPolicyCRD, err)
	}

	thirdParty, err := crds.ThirdPartyCustomResourceDefinitions()
	if err != nil {
		return fmt.Errorf("loading the embedded third-party CRDs: %w", err)
	}
	var crd *apiextensionsv1.CustomResourceDefinition
	for _, candidate := range thirdParty {
		if candidate.Name == clusterNetworkPolicyCRD {
			crd = candidate
		}
	}
	if crd == nil {
		return fmt.Errorf("CRD %s is not embedded in package crds: run make generate", clusterNetworkPolicyCRD)
	}
	if err := c.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
		return siteErrorf(enclave.ReasonApplyFailed, "installing CRD %s failed: %w", clusterNetworkPolicyCRD, err)
	}

	// A CRD is usable once it is Established and the API server's
	// discovery lists it, which a list call proves.
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		return c.List(ctx, &v1alpha2.ClusterNetworkPolicyList{}, client.Limit(1)) == nil, nil
	})
	if err != nil {
		return siteErrorf(enclave.ReasonApplyFailed, "CRD %s installed but not served: %w", clusterNetworkPolicyCRD, err)
	}
	return nil
}
