/*
 * cx-highlight: C syntax highlighting for %%cx and %cx cells in JupyterLab 4 and Notebook 7.
 *
 * Plain JavaScript, no build step. JupyterLab loads prebuilt extensions as webpack "module
 * federation" containers: this script defines the global _JUPYTERLAB["cx-highlight"] with the
 * container protocol's two calls, init(shareScope) (nothing to share: this plugin imports no
 * package) and get("./extension") (a promise of a factory returning the module, whose default
 * export is the plugin).
 *
 * The plugin needs no tokens. It finds every notebook (through the notebook widget factory and
 * the shell), and keeps each code cell's editor language in step with its first line: a cell
 * whose source starts with %%cx or %cx gets the mime type text/x-csrc (CodeMirror's C mode), any
 * other goes back to the notebook's own (the kernel language's, e.g. text/x-ipython). The
 * notebook itself resets every cell's mime type when the kernel's language info arrives: that
 * change is seen (mimeTypeChanged) and corrected again.
 *
 * Changing a cell's mimeType changes only the editor: nothing is written to the notebook file.
 *
 * Diagnostics in the editor: the %%cx magic sends a cell's compile errors and warnings as display
 * data of the MIME type application/vnd.cx.diagnostics+json ({"diagnostics": [{line, column,
 * severity, message}]}, 1-based, as the editor counts), which nothing renders. Whenever a code
 * cell's outputs change, the plugin collects those items and marks them in the cell's editor: a
 * wavy underline under the token at the line and column (the whole line when no column is
 * known) and a marker in a gutter of its own, both with the message on hover (title). The marks
 * go when the cell is edited (any change of its text) or when its outputs change again (it runs
 * again: the outputs are cleared first). They use CodeMirror 6 as JupyterLab shares it:
 * init(shareScope) takes @codemirror/view and @codemirror/state from the share scope (the very
 * instances the editors are made of); without them, highlighting still works and no marks are
 * drawn.
 */
var _JUPYTERLAB;
(function () {
  "use strict";

  var NAME = "cx-highlight";
  var DIAGNOSTICS_MIME = "application/vnd.cx.diagnostics+json";
  var shared = {}; // "@codemirror/view", "@codemirror/state": JupyterLab's own modules, from init()
  var C_MIME = "text/x-csrc";
  var MAGIC = /^%%?cx(?:\s|$)/; // the first line is the %%cx (or %cx) magic

  function isCx(source) {
    return MAGIC.test(source || "");
  }

  function sourceOf(model) {
    var shared = model.sharedModel;
    return shared && shared.getSource ? shared.getSource() : model.value ? String(model.value) : "";
  }

  /* Give one code cell model the mime type its first line asks for. */
  function apply(notebook, model) {
    if (!model || model.isDisposed || model.type !== "code") {
      return;
    }
    var want = isCx(sourceOf(model)) ? C_MIME : notebook.codeMimetype;
    if (want && model.mimeType !== want) {
      model.mimeType = want;
    }
  }

  var watchedCells = new WeakSet();
  var watchedNotebooks = new WeakSet();

  function watchCell(notebook, model) {
    if (!model || model.type !== "code" || watchedCells.has(model)) {
      return;
    }
    watchedCells.add(model);
    var again = function () {
      apply(notebook, model);
    };
    if (model.sharedModel && model.sharedModel.changed) {
      model.sharedModel.changed.connect(again); // the source was edited
    }
    if (model.mimeTypeChanged) {
      model.mimeTypeChanged.connect(again); // the notebook set its language: correct it
    }
    apply(notebook, model);
  }

  function watchModel(notebook) {
    var model = notebook.model;
    if (!model || !model.cells) {
      return;
    }
    var cells = model.cells;
    for (var i = 0; i < cells.length; i++) {
      watchCell(notebook, cells.get(i));
    }
    if (!watchedCells.has(cells)) {
      watchedCells.add(cells);
      cells.changed.connect(function (_list, change) {
        (change.newValues || []).forEach(function (cell) {
          watchCell(notebook, cell);
        });
      });
    }
  }

  /* A notebook panel (JupyterLab 4 and Notebook 7 alike): its content is the Notebook widget. */
  function watchPanel(panel) {
    var notebook = panel && panel.content;
    if (!notebook || !("codeMimetype" in notebook) || watchedNotebooks.has(notebook)) {
      return;
    }
    watchedNotebooks.add(notebook);
    watchModel(notebook);
    watchCellWidgets(notebook);
    var rescan = function () {
      setTimeout(function () {
        watchCellWidgets(notebook); // after the notebook made the widgets of new cells
      }, 0);
    };
    if (notebook.model && notebook.model.cells) {
      notebook.model.cells.changed.connect(rescan);
    }
    if (notebook.activeCellChanged) {
      notebook.activeCellChanged.connect(rescan);
    }
    if (notebook.modelChanged) {
      notebook.modelChanged.connect(function () {
        watchModel(notebook);
      });
    }
    if (panel.context && panel.context.ready) {
      panel.context.ready.then(function () {
        watchModel(notebook);
        watchCellWidgets(notebook);
        if (notebook.model && notebook.model.cells) {
          notebook.model.cells.changed.connect(rescan);
        }
      });
    }
  }

  /* Every notebook in the shell's main area (lumino 2: widgets() is an iterator). */
  function scanShell(app) {
    var shell = app.shell;
    if (!shell || !shell.widgets) {
      return;
    }
    for (var it = shell.widgets("main"), step = it.next(); step && !step.done; step = it.next()) {
      watchPanel(step.value);
    }
  }


  /* ---- diagnostics in the editor ------------------------------------------------------------ */

  var marksKit = null; // built once from the shared CodeMirror modules

  function kit() {
    var view = shared["@codemirror/view"], state = shared["@codemirror/state"];
    if (marksKit || !view || !state) {
      return marksKit;
    }
    var setMarks = state.StateEffect.define();
    var empty = { deco: view.Decoration.none, gutter: state.RangeSet.empty, count: 0 };

    class Marker extends view.GutterMarker {
      constructor(severity, text) {
        super();
        this.severity = severity;
        this.text = text;
      }
      eq(other) {
        return other.severity === this.severity && other.text === this.text;
      }
      toDOM() {
        var node = document.createElement("div");
        node.className = "cx-diag-marker cx-diag-marker-" + this.severity;
        node.textContent = this.severity === "error" ? "\u25CF" : "\u25B2";
        node.title = this.text;
        return node;
      }
    }

    var field = state.StateField.define({
      create: function () {
        return empty;
      },
      update: function (value, tr) {
        for (var i = 0; i < tr.effects.length; i++) {
          if (tr.effects[i].is(setMarks)) {
            return tr.effects[i].value;
          }
        }
        return tr.docChanged && value.count ? empty : value; // edited: the marks are stale
      },
      provide: function (f) {
        return view.EditorView.decorations.from(f, function (v) {
          return v.deco;
        });
      }
    });

    var gutter = view.gutter({
      class: "cx-diag-gutter",
      markers: function (v) {
        return v.state.field(field).gutter;
      },
      initialSpacer: function () {
        return new Marker("warning", "");
      }
    });

    var theme = view.EditorView.baseTheme({
      ".cx-diag-error": { textDecoration: "underline wavy #e51400", textUnderlineOffset: "3px",
                          textDecorationSkipInk: "none" },
      ".cx-diag-warning": { textDecoration: "underline wavy #d9a400", textUnderlineOffset: "3px",
                            textDecorationSkipInk: "none" },
      ".cx-diag-gutter .cx-diag-marker": { cursor: "default", padding: "0 2px", fontSize: "80%" },
      ".cx-diag-marker-error": { color: "#e51400" },
      ".cx-diag-marker-warning": { color: "#d9a400" }
    });

    /* The marks of items (1-based line and column) on the document doc. */
    function build(doc, items) {
      var marks = [], markers = [], byLine = {};
      items.forEach(function (d) {
        if (!(d.line >= 1 && d.line <= doc.lines)) {
          return;
        }
        var line = doc.line(d.line), text = line.text, from, to;
        var severity = d.severity === "error" ? "error" : "warning";
        var title = severity + ": " + d.message;
        if (d.column >= 1 && d.column <= text.length) {
          from = d.column - 1;
          to = from;
          while (to < text.length && /\w/.test(text[to])) {
            to++;
          }
          if (to === from) {
            to = from + 1; // a punctuation mark, or the end of the line
          }
        } else {
          from = text.length - text.replace(/^\s+/, "").length;
          to = text.replace(/\s+$/, "").length;
        }
        if (to > from) {
          marks.push(view.Decoration.mark({ class: "cx-diag-" + severity, attributes: { title: title } })
            .range(line.from + from, line.from + to));
        }
        var prev = byLine[d.line];
        byLine[d.line] = {
          pos: line.from,
          severity: prev && prev.severity === "error" ? "error" : severity,
          text: prev ? prev.text + "\n" + title : title
        };
      });
      Object.keys(byLine).map(Number).sort(function (a, b) { return a - b; }).forEach(function (n) {
        var m = byLine[n];
        markers.push(new Marker(m.severity, m.text).range(m.pos));
      });
      return {
        deco: view.Decoration.set(marks, true),
        gutter: state.RangeSet.of(markers, true),
        count: items.length
      };
    }

    marksKit = { setMarks: setMarks, extension: [field, gutter, theme], build: build };
    return marksKit;
  }

  /* The diagnostics a cell's outputs carry. */
  function diagnosticsOf(model) {
    var items = [], outputs = model.outputs;
    for (var i = 0; outputs && i < outputs.length; i++) {
      var out = outputs.get(i), data = out && (out.data || (out.toJSON && out.toJSON().data));
      var value = data && data[DIAGNOSTICS_MIME];
      if (value && Array.isArray(value.diagnostics)) {
        items = items.concat(value.diagnostics);
      }
    }
    return items;
  }

  var injected = new WeakSet();

  /* Mark a code cell's diagnostics in its editor (none: clear the marks). */
  function showDiagnostics(cell) {
    var k = kit(), editor = cell.editor, view = editor && editor.editor;
    if (!k || !view || !view.dispatch || cell.isDisposed) {
      return;
    }
    var items = isCx(sourceOf(cell.model)) ? diagnosticsOf(cell.model) : [];
    if (!injected.has(view)) {
      if (!items.length) {
        return; // nothing to mark: leave the editor as it is
      }
      injected.add(view);
      if (editor.injectExtension) {
        editor.injectExtension(k.extension);
      } else {
        view.dispatch({ effects: shared["@codemirror/state"].StateEffect.appendConfig.of(k.extension) });
      }
    }
    view.dispatch({ effects: k.setMarks.of(k.build(view.state.doc, items)) });
  }

  var watchedWidgets = new WeakSet();

  function watchCellWidget(cell) {
    if (!cell || watchedWidgets.has(cell) || !cell.model || cell.model.type !== "code" || !cell.model.outputs) {
      return;
    }
    watchedWidgets.add(cell);
    var again = function () {
      showDiagnostics(cell);
    };
    cell.model.outputs.changed.connect(again);
    Promise.resolve(cell.ready).then(again); // outputs stored in the notebook; the editor exists now
  }

  function watchCellWidgets(notebook) {
    (notebook.widgets || []).forEach(watchCellWidget);
  }

  var plugin = {
    id: NAME + ":plugin",
    description: "C syntax highlighting for %%cx and %cx cells",
    autoStart: true,
    activate: function (app) {
      var registry = app.docRegistry;
      var hooked = false;
      function hookFactory() {
        var factory = !hooked && registry && registry.getWidgetFactory
          ? registry.getWidgetFactory("Notebook") : null;
        if (factory && factory.widgetCreated) {
          hooked = true;
          factory.widgetCreated.connect(function (_factory, panel) {
            watchPanel(panel);
          });
        }
      }
      hookFactory();
      var shell = app.shell;
      ["currentChanged", "layoutModified", "activeChanged"].forEach(function (signal) {
        if (shell && shell[signal] && shell[signal].connect) {
          shell[signal].connect(function () {
            scanShell(app);
          });
        }
      });
      Promise.resolve(app.restored).then(function () {
        hookFactory();
        scanShell(app);
      });
    }
  };

  var modules = {
    "./extension": function () {
      return { __esModule: true, default: plugin };
    }
  };

  var container = {
    init: function (scope) {
      // CodeMirror as JupyterLab shares it (for the diagnostics marks): the highest 6.x offered.
      var names = ["@codemirror/view", "@codemirror/state"];
      return Promise.all(names.map(function (name) {
        var versions = (scope && scope[name]) || {};
        var best = Object.keys(versions).filter(function (v) {
          return /^6\./.test(v);
        }).sort(function (a, b) {
          var x = a.split(".").map(Number), y = b.split(".").map(Number);
          return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
        }).pop();
        var entry = best && versions[best];
        if (!entry || !entry.get) {
          return null;
        }
        return Promise.resolve(entry.get()).then(function (factory) {
          shared[name] = typeof factory === "function" ? factory() : factory;
        });
      })).catch(function (err) {
        console.warn(NAME + ": no diagnostics marks (CodeMirror not shared):", err);
      });
    },
    get: function (module) {
      if (!Object.prototype.hasOwnProperty.call(modules, module)) {
        return Promise.reject(new Error('Module "' + module + '" does not exist in container ' + NAME));
      }
      return Promise.resolve(modules[module]);
    }
  };

  _JUPYTERLAB = typeof _JUPYTERLAB === "undefined" ? {} : _JUPYTERLAB;
  _JUPYTERLAB[NAME] = container;
})();
