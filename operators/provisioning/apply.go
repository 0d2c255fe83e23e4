package provisioning

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/provisioning"
)

// applyOutcome is the result of applying a workload's objects to one site.
type applyOutcome struct {
	// accepted are the objects the site holds as desired, applied now or
	// found in sync.
	accepted map[estatev1.ProvisionedObject]bool
	// failed are the objects the site rejected.
	failed []objectError
	// unreachable is the error that stopped the apply when the site could
	// not be reached; notAttempted are the objects after it.
	unreachable  error
	notAttempted []estatev1.ProvisionedObject
	// drifted names the objects that were changed or deleted on the site
	// since they were last applied, such as "Deployment border/web-api (deleted)".
	drifted []string
}

type objectError struct {
	ref estatev1.ProvisionedObject
	err error
}

func (o *applyOutcome) complete() bool {
	return o.unreachable == nil && len(o.failed) == 0
}

// applyAll applies desired to the site in order with server-side apply, as
// FieldManager with forced ownership. An object already in sync is not sent
// again. recorded are the objects that the workload's status lists on the
// site, and one of them found missing counts as drift. The first connection
// error stops the apply, because every later request would wait for the
// same timeout.
func (r *WorkloadReconciler) applyAll(ctx context.Context, c client.Client, site string, desired []client.Object, recorded map[estatev1.ProvisionedObject]bool) *applyOutcome {
	out := &applyOutcome{accepted: map[estatev1.ProvisionedObject]bool{}}
	for i, obj := range desired {
		ref := provisioning.Reference(obj, site)
		body, err := provisioning.ToApply(obj)
		if err != nil {
			out.failed = append(out.failed, objectError{ref, err})
			continue
		}

		live, err := r.getLive(ctx, c, body)
		switch {
		case isUnreachable(err):
			out.stop(err, site, desired[i:])
			return out
		case apierrors.IsNotFound(err):
			if recorded[ref] {
				out.drifted = append(out.drifted, describe(ref)+" (deleted)")
			}
		case err != nil:
			// The apply below reports the real problem, if any.
			log.FromContext(ctx).V(1).Info("Reading an object before applying it failed", "object", describe(ref), "error", err.Error())
		default:
			switch provisioning.Compare(body, live) {
			case provisioning.InSync:
				out.accepted[ref] = true
				continue
			case provisioning.Drifted:
				out.drifted = append(out.drifted, describe(ref)+" (changed)")
			}
		}

		if err := r.apply(ctx, c, body); err != nil {
			if isUnreachable(err) {
				out.stop(err, site, desired[i:])
				return out
			}
			out.failed = append(out.failed, objectError{ref, err})
			continue
		}
		out.accepted[ref] = true
	}
	return out
}

func (o *applyOutcome) stop(err error, site string, rest []client.Object) {
	o.unreachable = err
	for _, obj := range rest {
		o.notAttempted = append(o.notAttempted, provisioning.Reference(obj, site))
	}
}

func (r *WorkloadReconciler) getLive(ctx context.Context, c client.Client, body *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ctx, cancel := context.WithTimeout(ctx, r.CallTimeout)
	defer cancel()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(body.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(body), live); err != nil {
		return nil, err
	}
	return live, nil
}

func (r *WorkloadReconciler) apply(ctx context.Context, c client.Client, body *unstructured.Unstructured) error {
	ctx, cancel := context.WithTimeout(ctx, r.CallTimeout)
	defer cancel()
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(body.DeepCopy()), client.FieldOwner(FieldManager), client.ForceOwnership)
}

// unreachableMessage returns the Provisioned message for a site that could
// not be reached.
func (o *applyOutcome) unreachableMessage(site string) string {
	names := make([]string, 0, len(o.notAttempted))
	for _, ref := range o.notAttempted {
		names = append(names, describe(ref))
	}
	return fmt.Sprintf("Hosting site %s is unreachable: %v. Not applied: %s. Retrying on every resync.",
		site, o.unreachable, joinLimited(names, messageListLimit))
}

// failedMessage returns the Provisioned message for a site that rejected objects.
func (o *applyOutcome) failedMessage(site string, total int) string {
	reasons := make([]string, 0, len(o.failed))
	for _, f := range o.failed {
		reasons = append(reasons, fmt.Sprintf("%s: %v", describe(f.ref), f.err))
	}
	return fmt.Sprintf("Hosting site %s accepted %d of %d objects. Rejected: %s.",
		site, len(o.accepted), total, strings.Join(limit(reasons, messageListLimit), "; "))
}

// describe names an object as "Kind namespace/name", or "Kind name" when it
// is cluster-scoped.
func describe(ref estatev1.ProvisionedObject) string {
	if ref.Namespace == "" {
		return ref.Kind + " " + ref.Name
	}
	return ref.Kind + " " + ref.Namespace + "/" + ref.Name
}
