// The explorer page as one HTML document (its styles and script inline), which
// vite.widget.config.ts builds and hands the widget's module as this module's default export.
declare module "virtual:embscope-page" {
  const html: string;
  export default html;
}
