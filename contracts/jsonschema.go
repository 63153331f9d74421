package contracts

import (
	"embed"
	"io/fs"
)

//go:embed schema/*.json
var schemaFS embed.FS

// JSONSchemaBase is the $id prefix of the JSON Schema documents; each
// document's $id is this base plus its file name, and they refer to each
// other relatively ("common.json#/$defs/idNumber").
const JSONSchemaBase = "https://laborlink.example/schema/"

// JSONSchemas returns the JSON Schema (draft 2020-12) documents that describe
// the contracts for integrators: common.json, one per record type (named like
// the record type, such as transfer.json), envelope.json and receipt.json.
// They state the shape and the code formats; the Go validator is the
// authority and also checks what a schema cannot (check characters, the
// division table, order of dates, consistency between fields).
func JSONSchemas() fs.FS {
	sub, err := fs.Sub(schemaFS, "schema")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// JSONSchema returns one schema document by name, such as "transfer" or "envelope".
func JSONSchema(name string) ([]byte, error) {
	return fs.ReadFile(JSONSchemas(), name+".json")
}
