/*
 * Chunked, resumable uploads straight to the server's disk (namespace "stampUpload").
 *
 * The protocol is described in dashboard/server/upload_route.py.  A file is never read into
 * memory as a whole: File.slice gives one chunk at a time, and XMLHttpRequest sends it
 * (XHR, not fetch, because only XHR reports upload progress).  After a dropped
 * connection the upload asks the server how many bytes it holds and continues from
 * there; choosing the same files again after it gave up resumes it too.
 * Plain ES5: no build step, nothing to keep in step with Dash's React version.
 */
(function () {
  "use strict";

  /* Progress is redrawn at most this often. */
  var PROGRESS_EVERY_MS = 250;
  /* Answers after which retrying cannot help: say the server's reason instead. */
  var FINAL_STATUSES = { 404: 1, 411: 1, 413: 1, 507: 1 };

  var chosen = null; /* File objects of the latest choice (not read until sent) */
  var choices = 0; /* numbers each choice, so a late callback cannot start an older one */
  var resumable = {}; /* signature of a choice -> id of its unfinished upload on the server */
  var running = null; /* the upload in flight */

  /* "3.1 GB", "1.5 MB", "200 MB": as dashboard.server.config.format_size (1 MB = 2^20 bytes). */
  function formatSize(n) {
    var units = [["GB", 1073741824], ["MB", 1048576], ["KB", 1024]];
    for (var i = 0; i < units.length; i++) {
      if (n >= units[i][1]) {
        var value = n / units[i][1];
        var text = value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0);
        if (text.indexOf(".") >= 0) {
          text = text.replace(/0+$/, "").replace(/\.$/, "");
        }
        return text + " " + units[i][0];
      }
    }
    return n + " bytes";
  }

  /* "x.zip is 3.1 GB; the limit is 2 GB", or null: as dashboard.server.upload_route.oversize_message. */
  function oversizeMessage(names, sizes, limit) {
    var total = 0;
    for (var i = 0; i < sizes.length; i++) {
      total += sizes[i];
    }
    if (total <= limit) {
      return null;
    }
    var what;
    if (names.length === 1) {
      what = names[0] + " is";
    } else {
      what = names.slice(0, 3).join(", ") + (names.length > 3 ? " and " + (names.length - 3) + " more" : "") +
        " together are";
    }
    var size = formatSize(total);
    var limitText = formatSize(limit);
    if (size === limitText) {
      /* just over the limit: rounded, both would read the same */
      size = total + " bytes";
      limitText = limit + " bytes";
    }
    return what + " " + size + "; the limit is " + limitText;
  }

  function alertOf(text, color) {
    return {
      namespace: "dash_bootstrap_components",
      type: "Alert",
      props: { children: text, color: color, className: "py-2 small mb-0" },
    };
  }

  function setProps(id, props) {
    window.dash_clientside.set_props(id, props);
  }

  function signature(files) {
    return files.map(function (f) {
      return f.name + "\u0000" + f.size + "\u0000" + f.lastModified;
    }).join("\u0001");
  }

  /* One XHR; done(status, json) with status 0 for a network failure, -1 when aborted. */
  function request(method, url, session, settings, body, done, onProgress) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, url, true);
    xhr.setRequestHeader(settings.header, session);
    if (body instanceof Blob) {
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
    } else if (body) {
      xhr.setRequestHeader("Content-Type", "application/json");
      body = JSON.stringify(body);
    }
    if (onProgress) {
      xhr.upload.onprogress = function (event) {
        onProgress(event.loaded);
      };
    }
    xhr.onload = function () {
      var data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch (ignored) {
        data = null;
      }
      done(xhr.status, data);
    };
    xhr.onerror = function () {
      done(0, null);
    };
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = function () {
      done(-1, null);
    };
    xhr.send(body || null);
    return xhr;
  }

  function Upload(files, session, settings) {
    this.files = files;
    this.session = session;
    this.settings = settings;
    this.key = signature(files);
    this.id = resumable[this.key] || null;
    this.sizes = files.map(function (f) {
      return f.size;
    });
    this.received = this.sizes.map(function () {
      return 0;
    });
    this.chunk = 0;
    this.attempt = 0;
    this.inFlight = 0;
    this.xhr = null;
    this.cancelled = false;
    this.lastDrawn = 0;
    this.startedAt = Date.now();
    this.heldAtStart = null;
  }

  Upload.prototype.total = function () {
    return this.sizes.reduce(function (a, b) {
      return a + b;
    }, 0);
  };

  Upload.prototype.held = function () {
    return this.received.reduce(function (a, b) {
      return a + b;
    }, 0);
  };

  Upload.prototype.label = function () {
    return this.files.length === 1 ? this.files[0].name : this.files.length + " files";
  };

  Upload.prototype.draw = function (force, note) {
    var now = Date.now();
    if (!force && now - this.lastDrawn < PROGRESS_EVERY_MS) {
      return;
    }
    this.lastDrawn = now;
    var total = this.total();
    var done = Math.min(total, this.held() + this.inFlight);
    var percent = total ? (100 * done) / total : 100;
    var seconds = (now - this.startedAt) / 1000;
    var sent = done - (this.heldAtStart || 0);
    var rate = seconds > 0.5 && sent > 0 ? ", " + formatSize(sent / seconds) + "/s" : "";
    var s = this.settings;
    setProps(s.progress_box, { hidden: false });
    setProps(s.progress, { value: percent, label: Math.floor(percent) + " %" });
    setProps(s.progress_text, {
      children: note || formatSize(done) + " of " + formatSize(total) + " sent" + rate,
    });
  };

  Upload.prototype.cancel = function () {
    this.cancelled = true;
    if (this.xhr) {
      this.xhr.abort();
    }
  };

  Upload.prototype.start = function () {
    this.draw(true, "Starting the upload of " + this.label() + "…");
    if (this.id) {
      this.askStatus();
    } else {
      this.begin();
    }
  };

  Upload.prototype.begin = function () {
    var self = this;
    var files = this.files.map(function (f) {
      return { name: f.name, size: f.size };
    });
    this.xhr = request("POST", this.settings.url, this.session, this.settings, { files: files }, function (status, data) {
      if (self.cancelled) {
        return;
      }
      if (status === 201 && data) {
        self.apply(data);
        self.next();
      } else {
        self.failed(status, data, function () {
          self.begin();
        });
      }
    });
  };

  Upload.prototype.askStatus = function () {
    var self = this;
    this.xhr = request("GET", this.settings.url + this.id, this.session, this.settings, null, function (status, data) {
      if (self.cancelled) {
        return;
      }
      if (status === 200 && data) {
        self.apply(data);
        self.next();
      } else if (status === 404) {
        delete resumable[self.key]; /* expired or never there: start afresh */
        self.id = null;
        self.begin();
      } else {
        self.failed(status, data, function () {
          self.askStatus();
        });
      }
    });
  };

  Upload.prototype.apply = function (data) {
    this.id = data.upload;
    this.received = data.received;
    this.sizes = data.sizes;
    this.chunk = data.chunk_bytes;
    if (this.heldAtStart === null) {
      this.heldAtStart = this.held();
    }
    resumable[this.key] = this.id;
  };

  Upload.prototype.next = function () {
    for (var i = 0; i < this.files.length; i++) {
      if (this.received[i] < this.sizes[i]) {
        this.sendChunk(i);
        return;
      }
    }
    this.complete();
  };

  Upload.prototype.sendChunk = function (index) {
    var self = this;
    var offset = this.received[index];
    var end = Math.min(offset + this.chunk, this.sizes[index]);
    var blob = this.files[index].slice(offset, end);
    var url = this.settings.url + this.id + "/" + index + "?offset=" + offset;
    this.xhr = request("PUT", url, this.session, this.settings, blob, function (status, data) {
      self.inFlight = 0;
      if (self.cancelled) {
        return;
      }
      if (status === 200 && data) {
        self.received[index] = data.received;
        self.attempt = 0;
        self.draw(false);
        self.next();
      } else if (status === 409 && data && typeof data.received === "number") {
        self.received[index] = data.received; /* the server's count is the truth */
        self.next();
      } else {
        self.failed(status, data, function () {
          self.askStatus();
        });
      }
    }, function (loaded) {
      self.inFlight = loaded;
      self.draw(false);
    });
  };

  /* Retry after a pause (asking the server what it holds), or stop with its reason. */
  Upload.prototype.failed = function (status, data, retry) {
    var self = this;
    var reason = data && data.error;
    if (FINAL_STATUSES[status] || (status >= 400 && status < 500 && status !== 408 && status !== 409 &&
        status !== 429 && !(data && typeof data.received === "number"))) {
      this.stop("Upload refused: " + (reason || "the server answered " + status) + ".", "danger");
      return;
    }
    var delays = this.settings.retry_ms;
    if (this.attempt >= delays.length) {
      var total = this.total();
      var percent = total ? Math.floor((100 * this.held()) / total) : 0;
      this.stop("Upload of " + this.label() + " stopped at " + percent + " % (" +
        (reason || "the server cannot be reached") + "). Choose the same files again to resume.", "warning");
      return;
    }
    var delay = delays[this.attempt];
    this.attempt += 1;
    this.draw(true, "Connection lost; retrying in " + Math.round(delay / 1000) + " s (" +
      formatSize(this.held()) + " of " + formatSize(this.total()) + " on the server)…");
    window.setTimeout(function () {
      if (!self.cancelled) {
        retry();
      }
    }, delay);
  };

  Upload.prototype.stop = function (text, color) {
    if (running === this) {
      running = null;
    }
    setProps(this.settings.progress_box, { hidden: true });
    setProps(this.settings.message, { children: alertOf(text, color) });
  };

  /* Every byte is on the server: hand the upload to the dashboard (dashboard/features/data_in.py). */
  Upload.prototype.complete = function () {
    delete resumable[this.key];
    if (running === this) {
      running = null;
    }
    this.draw(true, "Checking " + this.label() + " (" + formatSize(this.total()) + ")…");
    setProps(this.settings.done, { data: { upload: this.id, at: Date.now() } });
  };

  function zoneOf(node) {
    while (node && node !== document) {
      if (node.classList && node.classList.contains("stamp-upload")) {
        return node;
      }
      node = node.parentNode;
    }
    return null;
  }

  /* Files chosen or dropped: hand their names and sizes to the dashboard's start callback. */
  function choose(fileList, zone) {
    var files = Array.prototype.slice.call(fileList || []);
    if (!files.length) {
      return;
    }
    chosen = files;
    choices += 1;
    setProps(zone.getAttribute("data-request-store"), {
      data: {
        choice: choices,
        files: files.map(function (f) {
          return { name: f.name, size: f.size };
        }),
      },
    });
  }

  /* Give each drop zone its file input (Dash has none that leaves the files unread). */
  function addInputs() {
    var zones = document.querySelectorAll(".stamp-upload[data-input-id]");
    for (var i = 0; i < zones.length; i++) {
      if (!zones[i].querySelector("input[type=file]")) {
        var input = document.createElement("input");
        input.type = "file";
        input.multiple = true;
        input.id = zones[i].getAttribute("data-input-id");
        input.accept = zones[i].getAttribute("data-accept") || "";
        input.style.display = "none";
        (zones[i].querySelector("label") || zones[i]).appendChild(input);
      }
    }
  }
  var inputsPending = false;
  new MutationObserver(function () {
    if (!inputsPending) {
      inputsPending = true;
      window.requestAnimationFrame(function () {
        inputsPending = false;
        addInputs();
      });
    }
  }).observe(document.documentElement, { childList: true, subtree: true });

  document.addEventListener("change", function (event) {
    var zone = zoneOf(event.target);
    if (zone && event.target.type === "file") {
      choose(event.target.files, zone);
      event.target.value = ""; /* choosing the same files again (to resume) fires change again */
    }
  });
  document.addEventListener("dragover", function (event) {
    var zone = zoneOf(event.target);
    if (zone) {
      event.preventDefault();
      zone.classList.add("stamp-upload-active");
    }
  });
  document.addEventListener("dragleave", function (event) {
    var zone = zoneOf(event.target);
    if (zone) {
      zone.classList.remove("stamp-upload-active");
    }
  });
  document.addEventListener("drop", function (event) {
    var zone = zoneOf(event.target);
    if (zone) {
      event.preventDefault();
      zone.classList.remove("stamp-upload-active");
      choose(event.dataTransfer && event.dataTransfer.files, zone);
    }
  });

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    stampUpload: {
      formatSize: formatSize,
      oversizeMessage: oversizeMessage,

      /*
       * A choice of files: refuse it when over the limit (nothing read, nothing sent),
       * else start sending it (any upload still running is dropped for the new one).
       */
      start: function (choice, session, settings) {
        var noUpdate = window.dash_clientside.no_update;
        if (!choice || !chosen || choice.choice !== choices || !settings) {
          return noUpdate;
        }
        var files = chosen;
        var names = files.map(function (f) {
          return f.name;
        });
        var refusal = oversizeMessage(names, files.map(function (f) {
          return f.size;
        }), settings.limit);
        if (refusal) {
          return alertOf("Upload refused: " + refusal + ".", "danger");
        }
        if (!session) {
          return alertOf("Upload refused: the page's session has expired; reload the page.", "danger");
        }
        if (running) {
          running.cancel();
        }
        running = new Upload(files, session, settings);
        running.start();
        return alertOf("Uploading " + running.label() + " (" + formatSize(running.total()) + ")…", "light");
      },
    },
  });
})();
