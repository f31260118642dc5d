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
 */
var _JUPYTERLAB;
(function () {
  "use strict";

  var NAME = "cx-highlight";
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
    if (notebook.modelChanged) {
      notebook.modelChanged.connect(function () {
        watchModel(notebook);
      });
    }
    if (panel.context && panel.context.ready) {
      panel.context.ready.then(function () {
        watchModel(notebook);
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
    init: function () {
      return Promise.resolve(); // shares nothing, needs nothing shared
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
