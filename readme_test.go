package sfu_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEEmbeddingExample holds README.md's embedding program to
// Example_embedding, which the compiler checks: main's body must be the
// example's, and every package the README imports must be one the
// example file imports.
func TestREADMEEmbeddingExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Embedding\n")
	if !ok {
		t.Fatal("README.md has no \"## Embedding\" section")
	}
	_, block, ok := strings.Cut(section, "```go\n")
	block, _, ok2 := strings.Cut(block, "```\n")
	if !ok || !ok2 {
		t.Fatal("the Embedding section has no go code block")
	}
	mainBody := funcBody(t, block, "func main() {")

	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if exampleBody := funcBody(t, string(example), "func Example_embedding() {"); mainBody != exampleBody {
		t.Errorf("README's main differs from Example_embedding:\n--- README\n%s\n--- example_test.go\n%s", mainBody, exampleBody)
	}
	for _, m := range regexp.MustCompile(`(?m)^\t(?:\w+ )?("[^"]+")$`).FindAllStringSubmatch(block, -1) {
		if !strings.Contains(string(example), "\t"+m[1]+"\n") && !strings.Contains(string(example), " "+m[1]+"\n") {
			t.Errorf("README imports %s, which example_test.go does not", m[1])
		}
	}
}

// funcBody returns the lines between the line opening a function and the
// "}" that closes it at the start of a line.
func funcBody(t *testing.T, src, opening string) string {
	t.Helper()
	_, rest, ok := strings.Cut(src, opening+"\n")
	if !ok {
		t.Fatalf("no %q", opening)
	}
	body, _, ok := strings.Cut(rest, "\n}\n")
	if !ok {
		t.Fatalf("%q is not closed", opening)
	}
	return body
}
