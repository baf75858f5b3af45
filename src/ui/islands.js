// The page's loader of its interactive parts (islands). Adapted from Leptos's
// own island script (MIT): the difference is that a page without islands
// downloads no WebAssembly at all, and that the page is marked
// <body data-hydrated="true"> once every island is live.
((root, pkgPath, jsName, wasmName) => {
	const done = () => setTimeout(() => document.body.setAttribute('data-hydrated', 'true'));
	if (!document.querySelector('leptos-island')) {
		done();
		return;
	}
	const childrenCallbacks = [];
	async function hydrateIsland(el, mod) {
		const islandFn = mod[el.dataset.component];
		if (!islandFn) {
			console.warn(`No WebAssembly function for the island ${el.dataset.component}.`);
			return;
		}
		const cb = childrenCallbacks[childrenCallbacks.length - 1];
		if (cb) cb();
		const res = islandFn(el);
		if (res && res.then) await res;
	}
	async function traverse(node, mod) {
		if (node.nodeType !== Node.ELEMENT_NODE) return;
		const tag = node.tagName.toLowerCase();
		if (tag === 'leptos-island') {
			await hydrateIsland(node, mod);
			for (const child of node.children) await traverse(child, mod);
		} else if (tag === 'leptos-children') {
			childrenCallbacks.push(node.$$on_hydrate);
			for (const child of node.children) await traverse(child, mod);
			childrenCallbacks.pop();
		} else {
			for (const child of node.children) await traverse(child, mod);
		}
	}
	import(`${root}/${pkgPath}/${jsName}.js`)
		.then((mod) =>
			mod.default({ module_or_path: `${root}/${pkgPath}/${wasmName}.wasm` }).then(async () => {
				mod.hydrate();
				await traverse(document.body, mod);
				window.__hydrateIsland = (el) => hydrateIsland(el, mod);
				done();
			}),
		)
		.catch((err) => console.error('The interactive parts of this page did not load:', err));
})
