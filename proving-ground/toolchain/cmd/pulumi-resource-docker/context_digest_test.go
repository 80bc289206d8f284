package main

// contextDigest against vectors recorded from upstream's hashContext (pulumi-docker v5.1.0,
// provider/provider.go) on the same fixtures: testdata/context_digest.json. Each case is a
// tree of files (path, mode, content) written under a temporary directory; the digest is taken
// from there with the relative paths a program passes.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

type digestCase struct {
	Name       string `json:"name"`
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile"`
	Files      []struct {
		Path    string `json:"path"`
		Mode    string `json:"mode"`
		Content string `json:"content"`
	} `json:"files"`
	Digest string `json:"digest"`
}

func writeCase(t *testing.T, root string, c digestCase) {
	t.Helper()
	for _, f := range c.Files {
		p := filepath.Join(root, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode, err := strconv.ParseUint(f.Mode, 8, 32)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.Content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, os.FileMode(mode)); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
}

func TestContextDigestIsUpstreams(t *testing.T) {
	raw, err := os.ReadFile("testdata/context_digest.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []digestCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			root := t.TempDir()
			writeCase(t, root, c)
			t.Chdir(root)
			var a imageArgs
			a.Build.Context, a.Build.Dockerfile = c.Context, c.Dockerfile
			got, err := digestContext(&a)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.Digest {
				t.Errorf("contextDigest %s, upstream recorded %s", got, c.Digest)
			}
			// Build args are not part of it (a change of those is a diff of `build` itself).
			a.Build.Args = map[string]string{"APP_CODE_VERSION": "v2"}
			if again, _ := digestContext(&a); again != got {
				t.Errorf("a build arg changed the contextDigest: %s != %s", again, got)
			}
			seen[c.Name] = got
		})
	}
	// What the vectors show: an excluded file's change is invisible, everything else is not.
	if seen["dockerignore"] != seen["dockerignore, an excluded file changed"] {
		t.Error("a change of an excluded file changed the digest")
	}
	for _, changed := range []string{"a changed file", "a changed mode", "a renamed file"} {
		if seen[changed] == seen["nested files"] {
			t.Errorf("%s: same digest as the unchanged context", changed)
		}
	}
}
