// Renders a sales report to PDF with pdfkit: a title, a bar chart and a table of monthly figures.
import PDFDocument from "pdfkit";

/** The PDF as a Buffer. `rows`: [{ month: "2026-01", orders, revenue }]. */
export function renderReport({ title, region, rows }) {
  const doc = new PDFDocument({ size: "A4", margin: 50, info: { Title: title, Producer: "herald-report-app" } });
  const chunks = [];
  doc.on("data", (chunk) => chunks.push(chunk));
  const done = new Promise((resolve, reject) => {
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
  });

  const total = rows.reduce((sum, r) => sum + r.revenue, 0);
  doc.fontSize(20).text(title);
  doc
    .moveDown(0.3)
    .fontSize(11)
    .fillColor("#555")
    .text(`Region: ${region} · ${rows.length} months · total revenue ${money(total)}`);
  doc.moveDown(1);

  // Bar chart: one bar per month, scaled to the best month.
  const chart = { x: 50, y: doc.y, width: 495, height: 160 };
  const best = Math.max(...rows.map((r) => r.revenue));
  const slot = chart.width / rows.length;
  rows.forEach((r, i) => {
    const h = (r.revenue / best) * (chart.height - 20);
    doc.rect(chart.x + i * slot + slot * 0.15, chart.y + chart.height - h, slot * 0.7, h).fill("#3b6fb6");
  });
  doc
    .moveTo(chart.x, chart.y + chart.height)
    .lineTo(chart.x + chart.width, chart.y + chart.height)
    .stroke("#999");
  doc.y = chart.y + chart.height + 20;

  // Table, continued on new pages as needed.
  const columns = [
    ["Month", 50, 120],
    ["Orders", 170, 100],
    ["Revenue", 270, 120],
  ];
  const header = () => {
    doc.fontSize(11).fillColor("#000");
    const y = doc.y;
    for (const [name, x, width] of columns) doc.text(name, x, y, { width, underline: true });
    doc.moveDown(0.4);
  };
  header();
  for (const r of rows) {
    if (doc.y > 760) {
      doc.addPage();
      header();
    }
    const y = doc.y;
    doc.fontSize(10).fillColor("#222");
    doc.text(r.month, 50, y, { width: 120 });
    doc.text(String(r.orders), 170, y, { width: 100 });
    doc.text(money(r.revenue), 270, y, { width: 120 });
    doc.moveDown(0.2);
  }
  const pages = doc.bufferedPageRange().count;
  doc.end();
  return done.then((pdf) => ({ pdf, pages, total }));
}

const money = (n) => `€${n.toLocaleString("en-US", { maximumFractionDigits: 0 })}`;
