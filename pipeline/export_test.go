package pipeline

// The hand-written schemas, for docs_test.go.
var (
	FileSchema     = fileSchema
	VariableSchema = variableSchema
	ProfileSchema  = profileSchema
)
