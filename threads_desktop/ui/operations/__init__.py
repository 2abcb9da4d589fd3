"""The UI's operations on the engine, by subject: small typed functions
`name(node, ...) -> result` that views pass to `EngineClient.run`, run on the
engine thread. The only UI code that imports the node (an import-linter
contract in pyproject.toml); an operation that changes something lets the
node publish the change set, so every view of it refreshes."""
