package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// ---- Secret -------------------------------------------------------------------------------

type secretKind struct{}

func (secretKind) supported() []string  { return []string{"name", "data", "labels"} }
func (secretKind) updateKeys() []string { return nil }
func (secretKind) deleteBeforeReplace(olds, news resource.PropertyMap) bool {
	return sameName(olds, news)
}
func (secretKind) setKeys() map[string]bool { return map[string]bool{"labels": true} }

var secretSchema = &block{}

var secretShape = &tfShape{
	meta:  `{"schema_version":"1"}`,
	zero:  map[string]resource.PropertyValue{"labels": emptyList()},
	delta: &deltaSpec{lists: map[string]*deltaSpec{"labels": objectElem}},
}

func (secretKind) shape() *tfShape { return secretShape }

func (secretKind) check(_ context.Context, _ *dockerProvider, urn resource.URN, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	if v, ok := news["data"]; !ok || v.IsNull() {
		return nil, errors.New("Secret: data is required")
	}
	if d, ok := plain(news["data"]).(string); ok {
		if _, err := base64.StdEncoding.DecodeString(d); err != nil {
			return nil, errors.New("data: value is not base64-encoded") // the value is sensitive: not echoed
		}
	}
	return checkNamed(secretSchema, urn, olds, news)
}

func (secretKind) create(ctx context.Context, p *dockerProvider, _ resource.URN, news resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	if preview {
		return "", secretSchema.outputs(news), nil
	}
	name, _ := plain(news["name"]).(string)
	data, _ := base64.StdEncoding.DecodeString(fmt.Sprint(plain(news["data"]))) // upstream ignores the error
	e, err := p.engine()
	if err != nil {
		return "", nil, err
	}
	var created struct {
		ID string `json:"ID"`
	}
	if err := e.call(ctx, http.MethodPost, "/secrets/create", nil, map[string]any{"Name": name, "Data": data}, &created); err != nil {
		return "", nil, err
	}
	return created.ID, secretSchema.outputs(news), nil
}

func (secretKind) update(_ context.Context, _ *dockerProvider, _ resource.URN, _ string, _, news resource.PropertyMap, _ bool) (resource.PropertyMap, error) {
	return secretSchema.outputs(news), nil
}

func (secretKind) delete(ctx context.Context, p *dockerProvider, _ resource.URN, id string, _ resource.PropertyMap) error {
	e, err := p.engine()
	if err != nil {
		return err
	}
	return e.call(ctx, http.MethodDelete, "/secrets/"+url.PathEscape(id), nil, nil, nil)
}

// read: upstream's sets only the name (the engine never returns a secret's data).
func (secretKind) read(ctx context.Context, p *dockerProvider, id string, state resource.PropertyMap) (resource.PropertyMap, error) {
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	var s struct {
		Spec struct {
			Name string `json:"Name"`
		} `json:"Spec"`
	}
	if err := e.call(ctx, http.MethodGet, "/secrets/"+url.PathEscape(id), nil, nil, &s); err != nil {
		return nil, nil
	}
	out := state.Copy()
	out["name"] = str(s.Spec.Name)
	return out, nil
}
