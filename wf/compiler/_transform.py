"""The source-to-source pass: one LibCST traversal per module.

Every rewrite stays on the line it replaces (statements are joined with
``;``, decorators take the place of a blank or comment line), so tracebacks,
debuggers and ``inspect`` keep pointing at the user's own lines. The only
lines ever added go after the last line of the module.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst
import libcst.matchers as m
from libcst.metadata import (
    Assignment,
    FunctionScope,
    GlobalScope,
    MetadataWrapper,
    PositionProvider,
    QualifiedNameProvider,
    QualifiedNameSource,
    Scope,
    ScopeProvider,
)

from wf.compiler._calls import PATH_IO_METHODS, PATH_TYPES, rejection_for, replacement_for
from wf.compiler._diagnostics import Diagnostic
from wf.compiler._directives import (
    STEP,
    WORKFLOW,
    Directive,
    has_directive_statement,
    mentions_directive,
)
from wf.compiler._directives import misspelled_directive as _misspelled
from wf.compiler._manifest import CompileResult, Kind, ManifestEntry
from wf.compiler._options import OPTIONS_QUALIFIED_NAMES, interval_problem, read_options

__all__ = ["GLUE_ALIAS", "GLUE_FALLBACK", "GLUE_IMPORT", "compile_source"]

GLUE_ALIAS = "__wf__"
GLUE_IMPORT = f"import wf.runtime._glue as {GLUE_ALIAS}"
# Used when no line can take the import: the module starts with a compound statement.
GLUE_FALLBACK = '__import__("wf.runtime._glue").runtime._glue'

_RESOLVED_SOURCES = (QualifiedNameSource.IMPORT, QualifiedNameSource.BUILTIN)

_DOCSTRING = m.Expr(value=m.SimpleString() | m.ConcatenatedString())
_FUTURE_IMPORT = m.ImportFrom(module=m.Name("__future__"))
_STRING_STATEMENT = m.Expr(value=m.SimpleString())
_OPTIONS = m.MatchMetadataIfTrue(
    QualifiedNameProvider, lambda names: any(n.name in OPTIONS_QUALIFIED_NAMES for n in names)
)
_PATH_OBJECT_IO = m.Attribute(
    value=m.Call(
        func=m.MatchMetadataIfTrue(
            QualifiedNameProvider, lambda names: any(n.name in PATH_TYPES for n in names)
        )
    ),
    attr=m.Name(value=m.MatchIfTrue(lambda name: name in PATH_IO_METHODS)),
)


def _quoted(text: str) -> str:
    # Ids are dotted identifiers plus a colon; JSON quoting is valid Python for them.
    return json.dumps(text, ensure_ascii=False)


def _statement_text(statement: cst.BaseSmallStatement) -> str | None:
    """The text of a plain string-literal statement (not bytes, not an f-string)."""
    if not m.matches(statement, _STRING_STATEMENT):
        return None
    value = cst.ensure_type(cst.ensure_type(statement, cst.Expr).value, cst.SimpleString)
    text = value.evaluated_value
    return text if isinstance(text, str) else None


def _small_statements(
    statements: Sequence[cst.BaseStatement] | Sequence[cst.BaseSmallStatement],
) -> list[cst.BaseSmallStatement | None]:
    """The direct simple statements of a body in order; None stands for a compound one."""
    flat: list[cst.BaseSmallStatement | None] = []
    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine):
            flat.extend(statement.body)
        elif isinstance(statement, cst.BaseSmallStatement):
            flat.append(statement)
        else:
            flat.append(None)
    return flat


@dataclass(frozen=True, slots=True)
class _Directives:
    """What a body (function or module) says about itself."""

    exact: Directive | None = None
    node: cst.BaseSmallStatement | None = None
    misspelled: tuple[cst.BaseSmallStatement, str, Directive] | None = None
    misplaced: tuple[tuple[cst.BaseSmallStatement, Directive], ...] = ()


def _scan(statements: list[cst.BaseSmallStatement | None]) -> _Directives:
    exact: Directive | None = None
    node: cst.BaseSmallStatement | None = None
    misspelled: tuple[cst.BaseSmallStatement, str, Directive] | None = None
    misplaced: list[tuple[cst.BaseSmallStatement, Directive]] = []
    for index, statement in enumerate(statements):
        text = None if statement is None else _statement_text(statement)
        if statement is None or text is None:
            continue
        if text in (STEP, WORKFLOW):
            directive: Directive = STEP if text == STEP else WORKFLOW
            if index == 0:
                exact, node = directive, statement
            else:
                misplaced.append((statement, directive))
        elif index == 0:
            intended = _misspelled(text)
            if intended is not None:
                misspelled = (statement, text, intended)
    return _Directives(exact, node, misspelled, tuple(misplaced))


@dataclass(frozen=True, slots=True)
class _AliasPlan:
    """Where ``import wf.runtime._glue as __wf__`` goes: module line, then position in it."""

    line: int
    position: int


def _plan_alias(module: cst.Module) -> _AliasPlan | None:
    prefix_line: int | None = None
    first = True
    for line_index, line in enumerate(module.body):
        if not isinstance(line, cst.SimpleStatementLine):
            break
        for position, statement in enumerate(line.body):
            in_prefix = (first and m.matches(statement, _DOCSTRING)) or m.matches(
                statement, _FUTURE_IMPORT
            )
            first = False
            if not in_prefix:
                return _AliasPlan(line_index, position)
        prefix_line = line_index
    if prefix_line is None:
        return None
    last = cst.ensure_type(module.body[prefix_line], cst.SimpleStatementLine)
    return _AliasPlan(prefix_line, len(last.body))


@dataclass(slots=True)
class _Frame:
    """A function, lambda or class being visited."""

    kind: Literal["function", "lambda", "class"]
    in_workflow: bool  # code in this frame runs as part of a workflow body
    role: Kind | None = None
    implicit: bool = False  # marked by the module's "use step"
    emit: bool = False  # module-level and well-formed: gets its glue code
    first_yield: cst.CSTNode | None = None
    options: dict[str, object] = field(default_factory=dict)
    name: str = ""
    nested_in: str | None = None  # a step nested in this (module-level) workflow
    nested_names: set[str] = field(default_factory=set)  # of the steps nested in a workflow
    hoist_decorators: tuple[str, ...] = ()  # @wf.options source text of a nested step


class _Compiler(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (QualifiedNameProvider, PositionProvider, ScopeProvider)

    def __init__(self, module: cst.Module, module_name: str, path: str) -> None:
        super().__init__()
        self._module = module
        self._module_name = module_name
        self._path = path
        self.diagnostics: list[Diagnostic] = []
        self.manifest: list[ManifestEntry] = []
        self.emitted = False
        self._frames: list[_Frame] = []
        self._module_step = False
        self._top_level: set[int] = set()
        self._alias = _plan_alias(module)
        self._appended: list[cst.SimpleStatementLine] = []

    # -- helpers ------------------------------------------------------------

    def _report(
        self, node: cst.CSTNode, code: str, message: str, suggestion: str | None = None
    ) -> None:
        start = self.get_metadata(PositionProvider, node).start
        self.diagnostics.append(
            Diagnostic(self._path, start.line, start.column + 1, code, message, suggestion)
        )

    def _glue(self, attribute: str) -> cst.BaseExpression:
        self.emitted = True
        base = GLUE_ALIAS if self._alias is not None else GLUE_FALLBACK
        return cst.parse_expression(f"{base}.{attribute}")

    def _glue_statement(self, template: str) -> cst.BaseStatement:
        self.emitted = True
        base = GLUE_ALIAS if self._alias is not None else GLUE_FALLBACK
        return cst.parse_statement(template.replace(GLUE_ALIAS, base) + "\n")

    def _qualified_names(self, node: cst.BaseExpression) -> list[str]:
        # Only plain dotted names: LibCST also names `open("x").read` "builtins.open".
        callee: cst.BaseExpression = node
        while m.matches(callee, m.Attribute()):
            callee = cst.ensure_type(callee, cst.Attribute).value
        if not m.matches(callee, m.Name()):
            return []
        names = self.get_metadata(QualifiedNameProvider, node, set())
        return sorted(n.name for n in names if n.source in _RESOLVED_SOURCES)

    def _in_workflow(self) -> bool:
        return bool(self._frames) and self._frames[-1].in_workflow

    def _id(self, name: str) -> str:
        return f"{self._module_name}:{name}"

    # -- the module ---------------------------------------------------------

    def visit_Module(self, node: cst.Module) -> None:
        directives = _scan(_small_statements(node.body))
        if directives.exact == STEP:
            self._module_step = True
        elif directives.exact == WORKFLOW and directives.node is not None:
            self._report_module_workflow(directives.node)
        if directives.misspelled is not None:
            statement, text, intended = directives.misspelled
            self._report_misspelled(statement, text, intended)
        for statement, directive in directives.misplaced:
            if directive == WORKFLOW:
                self._report_module_workflow(statement)
            else:
                self._report(
                    statement,
                    "WF002",
                    '"use step" must be the first statement of the module',
                    "move it above the imports; it replaces the module docstring",
                )
        self._top_level = {id(s) for s in node.body if m.matches(s, m.FunctionDef())}

    def _report_module_workflow(self, node: cst.CSTNode) -> None:
        self._report(
            node,
            "WF012",
            '"use workflow" cannot mark a module; only "use step" can',
            'put "use workflow" first in the body of each workflow function',
        )

    def _report_misspelled(self, node: cst.CSTNode, text: str, intended: Directive) -> None:
        self._report(
            node,
            "WF003",
            f"{text!r} is not a directive: did you mean {_quoted(intended)}?",
            f"write exactly {_quoted(intended)}",
        )

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        if not self.emitted:
            return original_node
        body = list(updated_node.body)
        if self._alias is not None:
            line = cst.ensure_type(body[self._alias.line], cst.SimpleStatementLine)
            alias = cst.ensure_type(
                cst.parse_statement(GLUE_IMPORT + "\n"), cst.SimpleStatementLine
            )
            statements = list(line.body)
            statements.insert(self._alias.position, alias.body[0])
            body[self._alias.line] = line.with_changes(body=statements)
        if not self._appended:
            return updated_node.with_changes(body=body)
        # The module's trailing blank lines and comments stay above the added lines.
        appended = [self._appended[0].with_changes(leading_lines=updated_node.footer)]
        appended.extend(self._appended[1:])
        return updated_node.with_changes(body=[*body, *appended], footer=())

    # -- scopes -------------------------------------------------------------

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._frames.append(_Frame("class", self._in_workflow()))

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        self._frames.pop()
        return updated_node

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._frames.append(_Frame("lambda", self._in_workflow()))

    def leave_Lambda(
        self, original_node: cst.Lambda, updated_node: cst.Lambda
    ) -> cst.BaseExpression:
        self._frames.pop()
        return updated_node

    def visit_Yield(self, node: cst.Yield) -> None:
        for frame in reversed(self._frames):
            if frame.kind != "class":
                if frame.first_yield is None:
                    frame.first_yield = node
                return

    # -- functions ----------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        name = node.name.value
        is_async = node.asynchronous is not None
        directives = _scan(_small_statements(node.body.body))
        frame = _Frame("function", self._in_workflow(), name=name)
        if directives.exact is not None:
            frame.role = "workflow" if directives.exact == WORKFLOW else "step"
        elif self._module_step and is_async and id(node) in self._top_level:
            frame.role, frame.implicit = "step", True
        if directives.misspelled is not None:
            statement, text, intended = directives.misspelled
            self._report_misspelled(statement, text, intended)
        for statement, directive in directives.misplaced:
            self._report(
                statement,
                "WF002",
                f"{_quoted(directive)} must be the first statement of `{name}`",
                "move it to the first line of the body, above any docstring",
            )
        frame.emit = frame.role is not None and self._check_function(node, frame, directives)
        self._read_options(node, frame)
        self._frames.append(frame)

    def _check_function(self, node: cst.FunctionDef, frame: _Frame, found: _Directives) -> bool:
        """Report what makes a marked function unusable; True when it can be compiled."""
        name = node.name.value
        directive = found.node if found.node is not None else node
        scope = self.get_metadata(ScopeProvider, node)
        parent = self._frames[-1] if self._frames else None
        if frame.role == "step" and parent is not None and parent.kind == "function":
            if parent.role == "workflow" and isinstance(scope, FunctionScope):
                return self._check_nested_step(node, frame, parent, scope, directive)
            if parent.nested_in is not None:
                self._report(
                    directive,
                    "WF013",
                    f"`{name}`: a step cannot be nested in a nested step",
                    f"define `{name}` directly in the workflow body or at module level",
                )
                return False
        if not isinstance(scope, GlobalScope):
            self._report(
                directive,
                "WF010",
                f"`{name}`: workflows and steps must be module-level functions"
                ' (or "use step" functions defined directly in a workflow body)',
                f"move `{name}` to the top level of its module"
                " (methods and other nested functions are not supported)",
            )
            return False
        if frame.role == "workflow" and node.asynchronous is None:
            self._report(
                node,
                "WF001",
                f"workflow `{name}` is a plain `def`; workflows must be `async def`",
                f"write `async def {name}(...)`",
            )
            return False
        if frame.role == "step" and not frame.implicit:
            alone = (
                isinstance(node.body, cst.IndentedBlock)
                and len(cst.ensure_type(node.body.body[0], cst.SimpleStatementLine).body) == 1
            )
            if not alone:
                self._report(
                    directive,
                    "WF002",
                    f'"use step" must be alone on the first line of `{name}`',
                    "move the other statements of that line to the lines below it",
                )
                return False
        return True

    def _check_nested_step(
        self,
        node: cst.FunctionDef,
        frame: _Frame,
        workflow: _Frame,
        scope: FunctionScope,
        directive: cst.CSTNode,
    ) -> bool:
        """A step nested in a workflow: what it captures must be plain, serializable values."""
        name = node.name.value
        ok = True

        def reject(at: cst.CSTNode, message: str, suggestion: str) -> None:
            nonlocal ok
            ok = False
            self._report(at, "WF013", f"nested step `{name}`: {message}", suggestion)

        if name in workflow.nested_names:
            reject(
                node,
                f"workflow `{workflow.name}` already defines a nested step `{name}`",
                "give each nested step of a workflow its own name",
            )
        workflow.nested_names.add(name)
        for decorator in node.decorators:
            expression = decorator.decorator
            if m.matches(expression, m.Call(func=_OPTIONS), metadata_resolver=self):
                frame.hoist_decorators += (self._module.code_for_node(expression),)
            elif not m.matches(
                expression, _OPTIONS | m.Call(func=_OPTIONS), metadata_resolver=self
            ):
                reject(
                    decorator,
                    "only @wf.options(...) can decorate a nested step",
                    "move the step to module level to decorate it",
                )
        captured = self._captured(node, scope)
        for nonlocal_ in m.findall(node.body, m.Nonlocal()):
            for item in cst.ensure_type(nonlocal_, cst.Nonlocal).names:
                if item.name.value in captured or self._scope_of(nonlocal_) is self._body_scope(
                    node
                ):
                    reject(
                        nonlocal_,
                        f"it assigns the workflow's variable `{item.name.value}` (nonlocal)",
                        "return the new value from the step and assign it in the workflow",
                    )
        for variable, kind in sorted(captured.items()):
            if kind is not None:
                reject(
                    directive,
                    f"it captures `{variable}`, a {kind} of the workflow, which cannot be"
                    " passed to the step as a serialized argument",
                    f"pass what `{variable}` provides as an argument, or define it at module level",
                )
        if ok:
            frame.nested_in = workflow.name
        return ok

    def _scope_of(self, node: cst.CSTNode) -> object:
        return self.get_metadata(ScopeProvider, node, None)

    def _body_scope(self, node: cst.FunctionDef) -> object:
        body = cst.ensure_type(node.body, cst.IndentedBlock)
        return self._scope_of(body.body[0])

    def _captured(self, node: cst.FunctionDef, workflow: FunctionScope) -> dict[str, str | None]:
        """Workflow variables read in the step; the value is why it cannot be captured, if so."""
        own = self._body_scope(node)
        found: dict[str, str | None] = {}
        for assignment in workflow.assignments:
            for access in assignment.references:
                scope: Scope | None = access.scope
                while scope is not None and scope is not own and scope is not workflow:
                    scope = scope.parent
                if scope is not own:
                    continue
                kind = None
                if isinstance(assignment, Assignment):
                    defined = assignment.node
                    if isinstance(defined, cst.FunctionDef):
                        kind = "function"
                    elif isinstance(defined, cst.ClassDef):
                        kind = "class"
                    elif isinstance(defined, cst.Import | cst.ImportFrom):
                        kind = "module import"
                if found.get(assignment.name) is None:
                    found[assignment.name] = kind
        return found

    def _read_options(self, node: cst.FunctionDef, frame: _Frame) -> None:
        found = [
            d.decorator
            for d in node.decorators
            if m.matches(d.decorator, _OPTIONS | m.Call(func=_OPTIONS), metadata_resolver=self)
        ]
        name = node.name.value
        # Stacked decorators merge with the outer one winning, as they do at run time.
        for decorator in reversed(found):
            if frame.role is None:
                self._report(
                    decorator,
                    "WF011",
                    f"@wf.options has no effect: `{name}` is neither a step nor a workflow",
                    'start the body with "use step" or "use workflow", or remove the decorator',
                )
            elif not isinstance(decorator, cst.Call):
                self._report(
                    decorator, "WF011", "@wf.options must be called", "write @wf.options(...)"
                )
            else:
                options, problems = read_options(decorator, frame.role, self._module.code_for_node)
                for problem in problems:
                    self._report(problem.node, "WF011", problem.message, problem.suggestion)
                frame.options.update(options)
        conflict = interval_problem(frame.options) if frame.role == "step" else None
        if conflict is not None:
            self._report(
                found[0], "WF011", conflict, "raise max_interval or lower initial_interval"
            )

    def visit_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        # Decorators, defaults and annotations run at import; only the body is orchestration.
        frame = self._frames[-1]
        if frame.role == "workflow":
            frame.in_workflow = True
        elif frame.role == "step":
            frame.in_workflow = False  # a nested step's body runs on the worker

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        frame = self._frames.pop()
        if frame.role is None:
            return updated_node
        name = original_node.name.value
        if frame.first_yield is not None:
            self._report(
                frame.first_yield,
                "WF004",
                f"{frame.role} `{name}` is a generator (it uses `yield`)",
                f"a {frame.role} cannot be a generator: collect the values and return them",
            )
            frame.emit = False
        if not frame.emit:
            return updated_node
        qualname = name if frame.nested_in is None else f"{frame.nested_in}.{name}"
        entry_id = self._id(qualname)
        line = self.get_metadata(PositionProvider, original_node).start.line
        self.manifest.append(
            ManifestEntry(entry_id, frame.role, self._path, line, dict(frame.options))
        )
        if frame.role == "workflow":
            return self._enter_workflow(updated_node, entry_id)
        if frame.implicit:
            return self._decorate(updated_node, entry_id)
        if frame.nested_in is not None:
            arguments = [frame.nested_in, _quoted(name), _quoted(entry_id), *frame.hoist_decorators]
            self._appended.append(
                cst.ensure_type(
                    self._glue_statement(f"{GLUE_ALIAS}.nested_step({', '.join(arguments)})"),
                    cst.SimpleStatementLine,
                )
            )
        return self._guard_step(updated_node, entry_id)

    def _enter_workflow(self, node: cst.FunctionDef, entry_id: str) -> cst.FunctionDef:
        """``"use workflow"`` stays the docstring; the entry check joins its line."""
        enter = cst.Expr(self._glue(f"enter_workflow({_quoted(entry_id)})"))
        body = node.body
        if isinstance(body, cst.IndentedBlock):
            first = cst.ensure_type(body.body[0], cst.SimpleStatementLine)
            first = first.with_changes(body=[first.body[0], enter, *first.body[1:]])
            return node.with_changes(body=body.with_changes(body=[first, *body.body[1:]]))
        suite = cst.ensure_type(body, cst.SimpleStatementSuite)
        return node.with_changes(
            body=suite.with_changes(body=[suite.body[0], enter, *suite.body[1:]])
        )

    def _guard_step(self, node: cst.FunctionDef, entry_id: str) -> cst.FunctionDef:
        """The directive line becomes the one-line in-workflow dispatch."""
        body = cst.ensure_type(node.body, cst.IndentedBlock)
        first = cst.ensure_type(body.body[0], cst.SimpleStatementLine)
        wait = "await " if node.asynchronous is not None else ""
        guard = cst.ensure_type(
            self._glue_statement(
                f"if {GLUE_ALIAS}.in_workflow(): return {wait}"
                f"{GLUE_ALIAS}.call_step({_quoted(entry_id)}, locals())"
            ),
            cst.If,
        )
        suite = cst.ensure_type(guard.body, cst.SimpleStatementSuite)
        guard = guard.with_changes(
            leading_lines=first.leading_lines,
            body=suite.with_changes(trailing_whitespace=first.trailing_whitespace),
        )
        return node.with_changes(body=body.with_changes(body=[guard, *body.body[1:]]))

    def _decorate(self, node: cst.FunctionDef, entry_id: str) -> cst.FunctionDef:
        """Decorate in place of the blank or comment line above; else rebind at the end."""
        decorator = self._glue(f"step_function({_quoted(entry_id)})")
        name = node.name.value
        if not node.leading_lines:
            self._appended.append(
                cst.ensure_type(
                    self._glue_statement(
                        f"{name} = {GLUE_ALIAS}.step_function({_quoted(entry_id)})({name})"
                    ),
                    cst.SimpleStatementLine,
                )
            )
            return node
        spot = node.leading_lines[-1]
        trailing = cst.TrailingWhitespace(
            whitespace=cst.SimpleWhitespace("  " if spot.comment is not None else ""),
            comment=spot.comment,
            newline=spot.newline,
        )
        return node.with_changes(
            leading_lines=node.leading_lines[:-1],
            decorators=[
                cst.Decorator(decorator=decorator, trailing_whitespace=trailing),
                *node.decorators,
            ],
        )

    # -- workflow bodies ----------------------------------------------------

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if not self._in_workflow():
            return updated_node
        for qualified in self._qualified_names(original_node.func):
            replacement = replacement_for(qualified)
            if replacement is not None:
                return updated_node.with_changes(func=self._glue(".".join(replacement)))
            rejection = rejection_for(qualified)
            if rejection is not None:
                self._report(
                    original_node,
                    rejection.code,
                    f"`{qualified}()` in a workflow body {rejection.what}",
                    rejection.suggestion,
                )
                return updated_node
        if m.matches(original_node.func, _PATH_OBJECT_IO, metadata_resolver=self):
            rejection = rejection_for("pathlib.Path.open")
            if rejection is not None:
                method = cst.ensure_type(original_node.func, cst.Attribute).attr.value
                self._report(
                    original_node,
                    rejection.code,
                    f"`Path.{method}()` in a workflow body {rejection.what}",
                    rejection.suggestion,
                )
        return updated_node


def _syntax_error(path: str, error: SyntaxError) -> Diagnostic:
    message = error.msg or "invalid syntax"
    if message == "invalid syntax":
        # Python's bare message says no more than the code does; the text it
        # points at does (the position is already in the diagnostic's prefix).
        offending = _offending_text(error)
        if offending:
            message += f" at {offending!r}"
    else:
        message = f"invalid syntax: {message}"
    return Diagnostic(path, error.lineno or 1, error.offset or 1, "WF000", message)


def _offending_text(error: SyntaxError) -> str:
    """The source text a syntax error points at, or "" when it does not point at any."""
    if not error.text or not error.offset or error.offset < 1:
        return ""
    start = error.offset - 1
    end = start + 1
    if error.end_lineno == error.lineno and error.end_offset and error.end_offset > end:
        end = error.end_offset - 1
    return error.text[start:end].strip()[:40]


def compile_source(source: str, *, module: str, path: str) -> CompileResult:
    """Compile one module's source.

    ``module`` is the dotted module name used in ids (``"pkg.mod:name"``) and
    ``path`` is reported in diagnostics and the manifest. A source without a
    directive is returned unchanged.
    """
    if not mentions_directive(source):
        return CompileResult(source, [], [])
    # Python's parser is fast and locates syntax errors best; LibCST's metadata
    # pass is slow, so it only runs when a directive is really there.
    try:
        syntax = ast.parse(source, filename=path)
    except SyntaxError as error:
        return CompileResult(source, [], [_syntax_error(path, error)])
    if not has_directive_statement(syntax):
        return CompileResult(source, [], [])
    try:
        tree = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        diagnostic = Diagnostic(
            path,
            error.raw_line,
            error.raw_column + 1,
            "WF000",
            f"the wf compiler cannot parse this file: {error.message}",
        )
        return CompileResult(source, [], [diagnostic])
    wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
    compiler = _Compiler(wrapper.module, module, path)
    compiled = wrapper.visit(compiler)
    code = compiled.code if compiler.emitted else source
    diagnostics = sorted(compiler.diagnostics, key=lambda d: (d.line, d.column))
    return CompileResult(code, compiler.manifest, diagnostics)
