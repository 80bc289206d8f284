package main

// Swarm: docker:index/serviceConfig:ServiceConfig, docker:index/secret:Secret and
// docker:index/service:Service, as upstream (kreuzwerker v4.5.0 docker_config, docker_secret,
// docker_service under pulumi-docker v5.1.0's bridge), for the inputs in `verifiedPaths`.
//
// What the bridge records (recorded on upstream with a replicated and a global service, see
// swarm_test.go): after a create or an update, the state holds the declared inputs (no
// `__defaults`) with every schema field filled with its zero value, and, for what the program
// leaves unset and the schema marks Computed, what the engine reports (healthcheck, dnsConfig,
// stopGracePeriod, init, placement, resources, restartPolicy, runtime, endpoint mode, mode).
// A refresh replaces that with upstream's Read (its flatteners): networksAdvanceds then hold the
// network's id and an empty name, placement the platforms the create pinned, empty lists and
// maps where the create recorded null.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// ---- Service: CRUD --------------------------------------------------------------------------

// conflict messages as the Terraform SDK words a ConflictsWith failure.
func (serviceKind) check(_ context.Context, _ *dockerProvider, urn resource.URN, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	if m := obj(news["mode"]); m != nil && getBool(m, "global") {
		if c, ok := news["convergeConfig"]; ok && !c.IsNull() {
			return nil, errors.New(`"mode.0.global": conflicts with converge_config`)
		}
		if _, ok := m["replicated"]; ok {
			return nil, errors.New(`"mode.0.global": conflicts with mode.0.replicated`)
		}
	}
	if v, ok := news["taskSpec"]; !ok || v.IsNull() {
		return nil, errors.New("Missing required argument: taskSpec")
	}
	return checkNamed(serviceSchema, urn, olds, news)
}

func inspectService(ctx context.Context, e *engine, id string) (*swarmService, error) {
	var s swarmService
	if err := e.call(ctx, http.MethodGet, "/services/"+url.PathEscape(id), url.Values{"insertDefaults": {"false"}}, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (k serviceKind) create(ctx context.Context, p *dockerProvider, urn resource.URN, news resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	if preview {
		return "", serviceOutputs(news, nil), nil
	}
	e, err := p.engine()
	if err != nil {
		return "", nil, err
	}
	spec := serviceSpec(news)
	image := spec["TaskTemplate"].(map[string]any)["ContainerSpec"].(map[string]any)["Image"].(string)
	auth := serviceAuth(p, image)
	spec["TaskTemplate"].(map[string]any)["ContainerSpec"].(map[string]any)["Image"] = tagged(image)
	pinImage(ctx, e, spec, auth)
	var created struct {
		ID string `json:"ID"`
	}
	resp, err := e.do(ctx, http.MethodPost, "/services/create", nil, jsonBody(spec), map[string]string{"X-Registry-Auth": auth})
	if err != nil {
		return "", nil, err
	}
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil {
		return "", nil, err
	}
	if cc := obj(news["convergeConfig"]); cc != nil {
		timeout := time.Duration(dur(getStr(cc, "timeout")))
		p.logStatus(ctx, urn, fmt.Sprintf("waiting up to %s for service %s to converge", getStr(cc, "timeout"), spec["Name"]))
		if err := convergeCreate(ctx, e, created.ID, time.Duration(dur(getStr(cc, "delay"))), timeout); err != nil {
			// As upstream: a service that does not converge is deleted.
			if derr := deleteService(ctx, e, created.ID, news); derr != nil {
				return "", nil, errors.New(tfErrors(derr))
			}
			return "", nil, errors.New(tfErrors(err))
		}
	}
	s, err := inspectService(ctx, e, created.ID)
	if err != nil {
		return "", nil, err
	}
	return created.ID, orderSets(serviceOutputs(news, s)), nil
}

func jsonBody(v any) *strings.Reader {
	data, _ := json.Marshal(v)
	return strings.NewReader(string(data))
}

func (serviceKind) update(ctx context.Context, p *dockerProvider, urn resource.URN, id string, olds, news resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	if preview {
		return serviceOutputs(news, nil), nil
	}
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	cur, err := inspectService(ctx, e, id)
	if err != nil {
		return nil, err
	}
	spec := serviceSpec(news)
	keepComputedPlacement(spec, olds, news)
	c := spec["TaskTemplate"].(map[string]any)["ContainerSpec"].(map[string]any)
	auth := serviceAuth(p, c["Image"].(string))
	c["Image"] = tagged(c["Image"].(string)) // no QueryRegistry on update, as upstream
	q := url.Values{"version": {strconv.FormatUint(cur.Version.Index, 10)}}
	resp, err := e.do(ctx, http.MethodPost, "/services/"+url.PathEscape(id)+"/update", q, jsonBody(spec),
		map[string]string{"X-Registry-Auth": auth})
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	var convergeErr error
	if cc := obj(news["convergeConfig"]); cc != nil {
		convergeErr = convergeUpdate(ctx, e, id, time.Duration(dur(getStr(cc, "timeout"))))
	}
	s, err := inspectService(ctx, e, id)
	if err != nil {
		return nil, err
	}
	outs := serviceUpdated(news, s)
	if convergeErr != nil {
		// As upstream: the state records the new inputs, and outputs with the declared values
		// (not what Swarm rolled back to), with the error; the engine keeps it as an init error
		// and plans an update on the next run. The bridge's wording around the message.
		reason := fmt.Sprintf("updating %s: %s", urn, tfErrors(convergeErr))
		return nil, &partialFailure{err: errors.New(tfErrors(errors.New(reason))), reason: reason,
			outs: orderSets(plannedNoCopy(overlay(outs, serviceOutputs(news, s), news)))}
	}
	return outs, nil
}

// keepComputedPlacement: an undeclared placement is Computed, so the SDK plans the prior
// state's value and upstream's update sends it, with the platforms the create pinned from the
// registry (recorded on upstream: they stay in the spec and read back after an update).
func keepComputedPlacement(spec map[string]any, olds, news resource.PropertyMap) {
	if getObj(obj(news["taskSpec"]), "placement") != nil {
		return
	}
	prior := getObj(obj(olds["taskSpec"]), "placement")
	if prior == nil {
		return
	}
	pl := spec["TaskTemplate"].(map[string]any)["Placement"].(map[string]any)
	pl["Constraints"] = strList(getList(prior, "constraints"))
	pl["MaxReplicas"] = getNum(prior, "maxReplicas")
	var plats []any
	for _, e := range getList(prior, "platforms") {
		m, _ := e.(map[string]any)
		plats = append(plats, map[string]any{"Architecture": getStr(m, "architecture"), "OS": getStr(m, "os")})
	}
	if len(plats) > 0 {
		pl["Platforms"] = plats
	}
	var prefs []any
	for _, d := range strList(getList(prior, "prefs")) {
		prefs = append(prefs, map[string]any{"Spread": map[string]any{"SpreadDescriptor": d}})
	}
	if len(prefs) > 0 {
		pl["Preferences"] = prefs
	}
}

// serviceUpdated: upstream's state after an update is its Read, except that the declared
// networksAdvanceds stay as planned (recorded: name kept, id "").
func serviceUpdated(news resource.PropertyMap, s *swarmService) resource.PropertyMap {
	planned := serviceOutputs(news, s)
	outs := serviceRead(planned, s)
	ts := objOrNil(outs["taskSpec"]).Copy()
	ts["networksAdvanceds"] = objOrNil(planned["taskSpec"])["networksAdvanceds"]
	outs["taskSpec"] = resource.NewObjectProperty(ts)
	return orderSets(outs)
}

// partialFailure: an update that changed the object but failed afterwards.
type partialFailure struct {
	err    error
	reason string
	outs   resource.PropertyMap
}

// tfErrors: how the bridge words a Terraform diagnostic (a go-multierror list).
func tfErrors(err error) string { return fmt.Sprintf("1 error occurred:\n\t* %s\n\n", err) }

// overlay: base with the planned value of every field the inputs declare.
func overlay(base, planned, declared resource.PropertyMap) resource.PropertyMap {
	out := base.Copy()
	for k, d := range declared {
		if k == defaultsKey || d.IsNull() {
			continue
		}
		p, b := planned[k], out[k]
		if d.IsObject() && p.IsObject() && b.IsObject() && !isMapValue(d) {
			out[k] = resource.NewObjectProperty(overlay(b.ObjectValue(), p.ObjectValue(), d.ObjectValue()))
		} else {
			out[k] = p
		}
	}
	return out
}

// isMapValue: a map input (env, driverOptions) is replaced whole, not merged.
func isMapValue(v resource.PropertyValue) bool {
	for _, e := range v.ObjectValue() {
		if !e.IsString() {
			return false
		}
	}
	_, nested := v.ObjectValue()[defaultsKey]
	return !nested
}

// plannedNoCopy: in the planned state a failed update records, a mount's undeclared
// volumeOptions.noCopy is false, not null (recorded on upstream: the e2e's rolled-back rollout).
func plannedNoCopy(outs resource.PropertyMap) resource.PropertyMap {
	ts := outs["taskSpec"]
	if !ts.IsObject() {
		return outs
	}
	cs := ts.ObjectValue()["containerSpec"]
	if !cs.IsObject() || !cs.ObjectValue()["mounts"].IsArray() {
		return outs
	}
	for _, m := range cs.ObjectValue()["mounts"].ArrayValue() {
		if !m.IsObject() {
			continue
		}
		vo := m.ObjectValue()["volumeOptions"]
		if vo.IsObject() && vo.ObjectValue()["noCopy"].IsNull() {
			vo.ObjectValue()["noCopy"] = boolean(false)
		}
	}
	return outs
}

func (f *partialFailure) Error() string { return f.err.Error() }

// deleteService is upstream's: with a stop grace period other than 0s, the service's containers
// on the provider's engine are waited for (up to that period) and removed after the service.
func deleteService(ctx context.Context, e *engine, id string, state resource.PropertyMap) error {
	grace := getStr(getObj(obj(state["taskSpec"]), "containerSpec"), "stopGracePeriod")
	wait := grace != "" && grace != "0s"
	var containers []string
	if wait {
		name, _ := plain(state["name"]).(string)
		filters, _ := json.Marshal(map[string][]string{"service": {name}})
		var tasks []swarmTask
		if err := e.call(ctx, http.MethodGet, "/tasks", url.Values{"filters": {string(filters)}}, nil, &tasks); err != nil {
			return err
		}
		for _, t := range tasks {
			if t.Status.ContainerStatus != nil && strings.TrimSpace(t.Status.ContainerStatus.ContainerID) != "" &&
				t.Status.State != "shutdown" {
				containers = append(containers, t.Status.ContainerStatus.ContainerID)
			}
		}
	}
	if err := e.call(ctx, http.MethodDelete, "/services/"+url.PathEscape(id), nil, nil, nil); err != nil {
		return fmt.Errorf("Error deleting service with ID '%s': %s", id, err)
	}
	for _, cid := range containers {
		wctx, cancel := context.WithTimeout(ctx, time.Duration(dur(grace)))
		err := e.call(wctx, http.MethodPost, "/containers/"+cid+"/wait", url.Values{"condition": {"removed"}}, nil, nil)
		cancel()
		if err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such container") {
			return fmt.Errorf("error on wait for container with ID '%s': %v", cid, err)
		}
		err = e.call(ctx, http.MethodDelete, "/containers/"+cid, url.Values{"v": {"1"}, "force": {"1"}}, nil, nil)
		if err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such container") &&
			!strings.Contains(err.Error(), "is already in progress") {
			return fmt.Errorf("Error deleting container with ID '%s': %s", cid, err)
		}
	}
	return nil
}

func (serviceKind) delete(ctx context.Context, p *dockerProvider, _ resource.URN, id string, olds resource.PropertyMap) error {
	e, err := p.engine()
	if err != nil {
		return err
	}
	return deleteService(ctx, e, id, olds)
}

// read: upstream finds the service by id or by name; none: gone.
func (serviceKind) read(ctx context.Context, p *dockerProvider, id string, state resource.PropertyMap) (resource.PropertyMap, error) {
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	var list []swarmService
	if err := e.call(ctx, http.MethodGet, "/services", nil, nil, &list); err != nil {
		return nil, fmt.Errorf("Error fetching service information from Docker: %s", err)
	}
	name, _ := plain(state["name"]).(string)
	found := ""
	for _, s := range list {
		if s.ID == id || s.Spec.Name == name {
			found = s.ID
			break
		}
	}
	if found == "" {
		return nil, nil
	}
	s, err := inspectService(ctx, e, found)
	if err != nil {
		return nil, fmt.Errorf("Error inspecting service %s: %s", found, err)
	}
	return orderSets(serviceRead(state, s)), nil
}

// readInputs: the bridge extracts the refreshed inputs from Read's outputs: a networksAdvanceds
// element's name becomes the one Read recorded (""), which the next plan sees as a replacement.
func (serviceKind) readInputs(inputs, outs resource.PropertyMap) resource.PropertyMap {
	in := obj(inputs["taskSpec"])
	outNets := getList(obj(outs["taskSpec"]), "networksAdvanceds")
	if in == nil || len(getList(in, "networksAdvanceds")) == 0 {
		return inputs
	}
	inputs = inputs.Copy()
	ts := inputs["taskSpec"].ObjectValue().Copy()
	var items []resource.PropertyValue
	for i, n := range ts["networksAdvanceds"].ArrayValue() {
		if n.IsObject() && i < len(outNets) {
			m := n.ObjectValue().Copy()
			if _, has := m["name"]; has {
				m["name"] = str(getStr(outNets[i].(map[string]any), "name"))
			}
			n = resource.NewObjectProperty(m)
		}
		items = append(items, n)
	}
	ts["networksAdvanceds"] = resource.NewArrayProperty(items)
	inputs["taskSpec"] = resource.NewObjectProperty(ts)
	return inputs
}
