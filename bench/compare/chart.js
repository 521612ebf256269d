// A horizontal bar chart of "Roost advantage" per metric (log scale, 1× line),
// as a standalone SVG a README can embed.
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderSvg(results, title) {
  const rowH = 26;
  const labelW = 430;
  const barW = 420;
  const top = 50;
  const h = top + results.length * rowH + 40;
  const w = labelW + barW + 90;
  const maxLog = Math.max(1, ...results.map((r) => Math.abs(Math.log10(Math.max(1e-3, r.advantage)))));
  const x0 = labelW + barW / 2;
  const scale = barW / 2 / maxLog;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="${x0}" y="40" text-anchor="middle" fill="#555">← Dovecot ahead | Roost ahead → (log scale)</text>`,
  ];
  results.forEach((r, i) => {
    const y = top + i * rowH;
    const lg = Math.log10(Math.max(1e-3, r.advantage));
    const len = Math.abs(lg) * scale;
    const x = lg >= 0 ? x0 : x0 - len;
    out.push(`<text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(r.label)}</text>`);
    out.push(`<rect x="${x.toFixed(1)}" y="${y + 4}" width="${Math.max(1, len).toFixed(1)}" height="${rowH - 8}" fill="${lg >= 0 ? '#2b8a3e' : '#c92a2a'}"/>`);
    out.push(`<text x="${(lg >= 0 ? x + len + 4 : x - 4).toFixed(1)}" y="${y + 16}" text-anchor="${lg >= 0 ? 'start' : 'end'}">${r.advantage.toFixed(2)}×</text>`);
  });
  out.push(`<line x1="${x0}" y1="${top - 4}" x2="${x0}" y2="${h - 30}" stroke="#333"/>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
