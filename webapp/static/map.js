/* Maps of places (webapp/ideas/templates/ideas/_map.html, map.html), drawn with the vendored
   Leaflet. Progressive: every [data-map] box holds a text line or a list of places with
   data-lat/data-lon; when tiles are configured (data-tiles) and Leaflet loaded, a map with a
   marker per place is put above it. Without JavaScript, tiles or Leaflet nothing changes. */
(function () {
  "use strict";

  var MOSCOW = [55.7558, 37.6173];

  // The credit as HTML for Leaflet (which inserts it as markup): the text escaped, in a link to
  // the licence page when there is one.
  function credit(box) {
    var url = box.getAttribute("data-attribution-url");
    var node = document.createElement(url ? "a" : "span");
    node.textContent = box.getAttribute("data-attribution") || "";
    if (url) { node.href = url; }
    var holder = document.createElement("span");
    holder.appendChild(node);
    return holder.innerHTML;
  }

  function places(box) {
    var found = [];
    var nodes = box.querySelectorAll("[data-lat][data-lon]");
    for (var i = 0; i < nodes.length; i++) {
      var lat = parseFloat(nodes[i].getAttribute("data-lat"));
      var lon = parseFloat(nodes[i].getAttribute("data-lon"));
      if (isFinite(lat) && isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
        found.push({
          at: [lat, lon],
          title: nodes[i].getAttribute("data-title") || "",
          href: nodes[i].getAttribute("data-href")
        });
      }
    }
    return found;
  }

  function popup(place) {
    var node = document.createElement(place.href ? "a" : "span");
    node.textContent = place.title;
    if (place.href) { node.href = place.href; }
    return node;
  }

  function draw(box) {
    var tiles = box.getAttribute("data-tiles");
    if (!tiles || typeof window.L === "undefined" || box.getAttribute("data-drawn")) { return; }
    var list = places(box);
    var canvas = document.createElement("div");
    canvas.className = "map-canvas";
    canvas.setAttribute("role", "region");
    canvas.setAttribute("aria-label", box.getAttribute("data-label") || "");
    box.insertBefore(canvas, box.firstChild);
    box.setAttribute("data-drawn", "1");
    var map = window.L.map(canvas, { scrollWheelZoom: false });
    window.L.tileLayer(tiles, {
      maxZoom: 19,
      attribution: credit(box),
      // The pages' Referrer-Policy is same-origin; tile servers (OpenStreetMap's among them)
      // ask to know which site shows their tiles: the origin only, never the page's path.
      referrerPolicy: "strict-origin-when-cross-origin"
    }).addTo(map);
    var zoom = parseInt(box.getAttribute("data-zoom"), 10) || 14;
    if (box.hasAttribute("data-picker")) { pick(box, map, zoom); return; }
    var bounds = [];
    list.forEach(function (place) {
      var marker = window.L.marker(place.at, { title: place.title, alt: place.title });
      if (place.href) { marker.bindPopup(popup(place)); }
      marker.addTo(map);
      bounds.push(place.at);
    });
    if (bounds.length > 1) {
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 15 });
    } else {
      map.setView(bounds.length ? bounds[0] : MOSCOW, bounds.length ? zoom : 10);
    }
  }

  // The place form: a click (or dragging the marker) fills in the latitude and longitude
  // fields; typing in them moves the marker.
  function pick(box, map, zoom) {
    var lat = box.querySelector("[data-latitude]");
    var lon = box.querySelector("[data-longitude]");
    var marker = null;
    function typed() {
      var a = parseFloat(lat.value.replace(",", "."));
      var b = parseFloat(lon.value.replace(",", "."));
      return isFinite(a) && isFinite(b) && Math.abs(a) <= 90 && Math.abs(b) <= 180 ? [a, b] : null;
    }
    function fill(at) {
      lat.value = at.lat.toFixed(6);
      lon.value = at.lng.toFixed(6);
    }
    function put(at) {
      if (marker) { marker.setLatLng(at); return; }
      marker = window.L.marker(at, { draggable: true, alt: box.getAttribute("data-label") || "" });
      marker.on("dragend", function () { fill(marker.getLatLng()); });
      marker.addTo(map);
    }
    map.on("click", function (event) { put(event.latlng); fill(event.latlng); });
    function moved() {
      var at = typed();
      if (at) { put(at); map.setView(at, Math.max(map.getZoom(), 14)); }
    }
    lat.addEventListener("change", moved);
    lon.addEventListener("change", moved);
    var start = typed();
    if (start) { put(start); }
    map.setView(start || MOSCOW, start ? zoom : 10);
  }

  function start() {
    var boxes = document.querySelectorAll("[data-map]");
    for (var i = 0; i < boxes.length; i++) { draw(boxes[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
